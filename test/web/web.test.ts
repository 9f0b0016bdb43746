/**
 * The web pages (issue #7) in a real browser (Debian's Chromium via playwright-core), against the
 * real app on real Redis, MySQL and Kafka: the countdown unlocks the buy button at the start; a
 * buyer wins, pays through the simulator and sees PAID without reloading; the next buyer sees sold
 * out and joins the waitlist; a challenge sale shows its solving progress then succeeds; the
 * dashboard's numbers move while a small crowd buys. Screenshots go to artifacts/web/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Json, pool, startTestApp, type TestApp } from '../support/http.ts';
import { TEST_SECRETS } from '../support/env.ts';
import { ensureChromium, launchChromium } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'web');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

describe('web pages in a real browser', { timeout: 120_000 }, () => {
  let skipReason: string | undefined;
  let t: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(
    async () => {
      skipReason = ensureChromium();
      if (skipReason) {
        if (process.env.CI) throw new Error(`web tests must run in CI, but Chromium is unavailable: ${skipReason}`);
        console.log(`# SKIPPING the browser tests: ${skipReason}`);
        return;
      }
      mkdirSync(ARTIFACTS, { recursive: true });
      t = await startTestApp(
        {
          SECKILL_DEV_TOKENS: '1',
          SECKILL_PAYMENT_SIMULATOR: '1',
          SECKILL_PAYMENT_SIMULATOR_DELAY_MS: '200',
          SECKILL_PAYMENT_SIMULATOR_SUCCESS_RATIO: '1',
        },
        'web',
      );
      browser = await launchChromium();
    },
    { timeout: 20 * 60_000 },
  );

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await t?.close();
  });

  /** A fresh browser profile (own localStorage), phone-sized unless told otherwise. */
  async function newPage(viewport = PHONE): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function signIn(page: Page, userId: string): Promise<void> {
    await page.getByLabel('User id').fill(userId);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#whoami-name', { hasText: userId }).waitFor();
  }

  let soldOutActivity: string | undefined;

  test('the countdown unlocks the buy button at the start; the winner pays and sees PAID live', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const startAt = new Date(Date.now() + 3_000);
    const { activity } = await t.createSale({ stock: 1, startAt, priceCents: 1999 });
    soldOutActivity = activity.id;
    const page = await newPage();
    await page.goto(`${t.url}/activities/${activity.id}`);
    await page.locator('#name', { hasText: 'Bottle' }).waitFor();
    await signIn(page, 'alice');

    const buy = page.locator('#buy');
    assert.equal(await buy.isDisabled(), true, 'disabled before the start');
    assert.match((await page.locator('#countdown').textContent()) ?? '', /^Starts in 00:0[0-3]$/);
    assert.equal(await page.locator('#status').textContent(), 'Coming soon');
    await shot(page, '01-countdown');

    // (Page functions are strings: this file is type-checked without the DOM library.)
    await page.waitForFunction('!document.getElementById("buy").disabled', undefined, { timeout: 8_000, polling: 'raf' });
    const enabledAt = Date.now();
    // The page follows the server's clock (same host here): it unlocks at the start, not before,
    // and not a tick late.
    assert.ok(enabledAt >= startAt.getTime() - 150, `enabled ${startAt.getTime() - enabledAt} ms early`);
    assert.ok(enabledAt <= startAt.getTime() + 600, `enabled ${enabledAt - startAt.getTime()} ms late`);
    assert.equal(await page.locator('#status').textContent(), 'On sale');
    await shot(page, '02-live');

    await buy.click();
    await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 15_000 });
    assert.match((await page.locator('#order-deadline').textContent()) ?? '', /^\d\d:\d\d(:\d\d)?$/, 'payment deadline counts down');
    assert.equal(await page.locator('#live-mode').textContent(), 'Live updates: connected');
    await shot(page, '03-pending-payment');

    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.locator('#order-status[data-status="PAID"]').waitFor({ timeout: 15_000 });
    assert.deepEqual(navigations, [], 'PAID arrived without a reload');
    assert.equal(await page.locator('#pay').isHidden(), true);
    await shot(page, '04-paid');
  });

  test('the next buyer sees sold out and joins the waitlist', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    assert.ok(soldOutActivity, 'runs after the sale above sold out');
    const page = await newPage();
    await page.goto(`${t.url}/activities/${soldOutActivity}`);
    await signIn(page, 'bob');
    await page.locator('#status[data-status="SOLD_OUT"]').waitFor();
    assert.equal(await page.locator('#buy').isDisabled(), true);
    assert.equal(await page.locator('#buy').textContent(), 'Sold out');
    assert.equal(await page.locator('#remaining').textContent(), '0');

    await page.getByRole('button', { name: 'Join the waitlist' }).click();
    await page.locator('#waitlist-state[data-status="WAITING"]').waitFor();
    assert.match((await page.locator('#waitlist-state').textContent()) ?? '', /You are number 1 on the waitlist/);
    const entry = await t.user('bob', 'GET', `/api/v1/activities/${soldOutActivity}/waitlist`);
    assert.equal(entry.status, 200);
    assert.equal(entry.body.waitlist.status, 'WAITING');
    await shot(page, '05-sold-out-waitlist');
  });

  test('a challenge sale shows solving progress, then the purchase succeeds', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const { commodityId } = await t.createSale({ stock: 3 });
    const created = await t.admin('POST', '/api/v1/admin/activities', {
      name: 'Guarded sale',
      commodityId,
      priceCents: 990,
      stock: 3,
      startAt: new Date(Date.now() - 1_000).toISOString(),
      endAt: new Date(Date.now() + 3_600_000).toISOString(),
      antiBot: 'challenge',
      // ~260k hashes on average: long enough to see the progress, short enough for a test.
      challengeDifficulty: 18,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const page = await newPage(DESKTOP);
    await page.goto(`${t.url}/activities/${created.body.activity.id}`);
    await signIn(page, 'carol');
    await page.locator('#buy:not([disabled])').waitFor();
    await page.locator('#buy').click();
    await page.locator('#challenge[data-state="solving"]').waitFor({ timeout: 5_000 });
    await page.locator('#challenge-text', { hasText: /tries/ }).waitFor({ timeout: 10_000 }).catch(() => {});
    await shot(page, '06-challenge-solving');
    await page.locator('#challenge[data-state="done"]').waitFor({ timeout: 60_000 });
    assert.match((await page.locator('#challenge-text').textContent()) ?? '', /^Check passed after [\d,]+ tries/);
    assert.equal(await page.locator('#challenge-progress').getAttribute('value'), '100');
    await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 15_000 });
    await shot(page, '07-challenge-ordered');
  });

  test('the dashboard shows the numbers change while a small crowd buys', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const { activity } = await t.createSale({ stock: 20 });
    // The live feed is for the operator only.
    const anonymous = await fetch(`${t.url}/api/v1/admin/activities/${activity.id}/live`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as Json).error.code, 'UNAUTHORIZED');
    const page = await newPage(DESKTOP);
    await page.goto(`${t.url}/admin`);
    await page.getByLabel('Admin token').fill(TEST_SECRETS.SECKILL_ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByRole('button', { name: `Watch activity ${activity.id} live` }).click();
    const metric = (label: string) => page.locator(`#numbers dd[data-metric="${label}"]`).textContent();
    await page.waitForFunction('Number(document.getElementById("live").dataset.ticks ?? 0) >= 2');
    assert.equal(await metric('Available'), '20');
    assert.equal(await metric('Redis remaining'), '20');
    const reservedBefore = Number(await metric('Reserved total'));

    // 40 buyers for 20 units, while the page watches.
    const results: Json[] = await pool(
      Array.from({ length: 40 }, (_, i) => () => t.buy(`crowd${i}`, activity.id, `r${i}`)),
      8,
    );
    assert.equal(results.filter((r) => r.status === 202).length, 20);
    await page.waitForFunction('document.querySelector(\'#numbers dd[data-metric="Locked"]\')?.textContent === "20"', undefined, {
      timeout: 20_000,
    });
    assert.equal(await metric('Available'), '0');
    assert.equal(await metric('Redis remaining'), '0');
    assert.equal(Number(await metric('Reserved total')) - reservedBefore, 20);
    assert.equal(await metric('Pending payment'), '20');
    // Requests/s comes from the counter's rate between ticks: the burst shows up as a peak.
    await page.waitForFunction('Number(document.getElementById("live").dataset.peakRps) > 0', undefined, { timeout: 5_000 });
    // The charts were drawn by uPlot.
    assert.equal(await page.locator('#live .uplot').count(), 4);

    await page.getByRole('button', { name: 'Reconcile' }).click();
    await page.locator('#op-result', { hasText: 'reconcile done' }).waitFor();
    assert.match((await page.locator('#op-result').textContent()) ?? '', /"repaired": false/);
    await shot(page, '08-dashboard');

    // The create forms validate like the API before sending.
    await page.locator('#activity-form input[name="stock"]').fill('0');
    await page.getByRole('button', { name: 'Create activity' }).click();
    assert.equal(await page.locator('#activity-form input[name="stock"]').getAttribute('aria-invalid'), 'true');
    await page.setViewportSize(PHONE);
    await shot(page, '09-dashboard-phone');
  });
});
