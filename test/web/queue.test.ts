/**
 * The product page behind a waiting room, in Chromium at phone and desktop widths: the button joins
 * the line, the page shows the place (position, people ahead, chance, a progress bar), keeps it
 * across a reload, and buys by itself once admitted. Screenshots go to artifacts/web/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/http.ts';
import { createRoomSale, join as joinQueue, setPaused } from '../waiting-room/helpers.ts';
import { chromiumOrSkip, launchChromium } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'web');

describe('product page behind a waiting room', { timeout: 5 * 60_000 }, () => {
  let skipReason: string | undefined;
  let t: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    skipReason = chromiumOrSkip();
    if (skipReason) return;
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestApp({ SECKILL_DEV_TOKENS: '1' }, 'webq');
    browser = await launchChromium();
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await t?.close();
  });

  async function newPage(width: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    return page;
  }

  for (const width of [390, 1280]) {
    test(`${width} px: join, see the place, keep it across a reload, buy once admitted`, async (tc) => {
      if (skipReason) return tc.skip(skipReason);
      const sale = await createRoomSale(t, { stock: 5, waitingRoom: { mode: 'fifo', admitPerSecond: 20, keepSeconds: 3600, paused: true } });
      // Two people ahead, so the page has a place to show.
      for (const user of [`ahead-a-${width}`, `ahead-b-${width}`]) assert.equal((await joinQueue(t, user, sale.id)).status, 201);

      const page = await newPage(width);
      await page.goto(`${t.url}/activities/${sale.id}`);
      await page.locator('#name', { hasText: 'Bottle' }).waitFor();
      const user = `buyer-${width}`;
      await page.getByLabel('User id').fill(user);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('#whoami-name', { hasText: user }).waitFor();

      const buy = page.locator('#buy');
      await page.locator('#buy', { hasText: 'Join the line' }).waitFor();
      await buy.click();
      await page.locator('#queue-position', { hasText: '3' }).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#queue-ahead').textContent(), '2');
      assert.match((await page.locator('#queue-chance').textContent()) ?? '', /%|likely/);
      assert.equal(await buy.textContent(), 'Waiting in line…');
      assert.equal(await buy.isDisabled(), true);
      const scrollWidth = (await page.evaluate('document.scrollingElement.scrollWidth')) as number;
      assert.ok(scrollWidth <= width, `no sideways scroll: ${scrollWidth} px in ${width}`);
      await page.screenshot({ path: join(ARTIFACTS, `queue-waiting-${width}.png`), fullPage: true });

      // A reload finds the same place (it lives on the server).
      await page.reload();
      await page.locator('#queue-position', { hasText: '3' }).waitFor({ timeout: 10_000 });

      await setPaused(t, sale.id, false);
      // Admitted → the page buys by itself.
      await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 30_000 });
      await page.screenshot({ path: join(ARTIFACTS, `queue-bought-${width}.png`), fullPage: true });
      const stats = await t.stats(sale.id);
      assert.equal(stats.orders.PENDING_PAYMENT, 1);
    });
  }
});
