/**
 * The operator console in a real browser (Debian's Chromium via playwright-core) against the real
 * app, at 1280 and 390 px: sign in with a name, pick a commodity from the list, read and enter times
 * with their zone, see each sale's status, pause/resume/end a sale (the buyers' page shows the
 * pause) and edit it, and find each of those actions in the audit panel under the operator's name.
 * At 390 px nothing is cut off: the tables become one card per row. Screenshots go to artifacts/web/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TEST_SECRETS } from '../support/env.ts';
import { startTestApp, type TestApp } from '../support/http.ts';
import { chromiumOrSkip, launchChromium } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'web');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

describe('the operator console in a real browser', { timeout: 10 * 60_000 }, () => {
  let skipReason: string | undefined;
  let t: TestApp;
  let browser: Browser;

  before(
    async () => {
      skipReason = chromiumOrSkip();
      if (skipReason) return;
      mkdirSync(ARTIFACTS, { recursive: true });
      t = await startTestApp({}, 'webcon');
      browser = await launchChromium();
    },
    { timeout: 20 * 60_000 },
  );
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const row = (page: Page, id: string) => page.locator(`#activities tr[data-activity="${id}"]`);

  test('run a sale from the console at 1280 px, then read it all at 390 px', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const kettle = await t.admin('POST', '/api/v1/admin/commodities', { name: 'Kettle', priceCents: 2500 });
    await t.admin('POST', '/api/v1/admin/commodities', { name: 'Teapot', priceCents: 1500, category: 'kitchen' });
    const { activity: live } = await t.createSale({ stock: 5 });

    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${t.url}/admin`);
    await page.getByLabel('Admin token').fill(TEST_SECRETS.SECKILL_ADMIN_TOKEN);
    await page.getByLabel('Your name').fill('Olga');
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#whoami-operator', { hasText: 'Olga' }).waitFor();

    // Status column; times with their zone.
    assert.deepEqual(await page.locator('#activities-table thead th').allTextContents(), ['Id', 'Name', 'Status', 'Stock', 'Price', 'Starts', 'Ends', 'Anti-bot', 'Actions']);
    await row(page, live.id).waitFor();
    assert.equal(await row(page, live.id).locator('.badge').textContent(), 'Live');
    assert.match((await row(page, live.id).locator('td[data-label="Starts"]').textContent()) ?? '', /GMT\+8/);
    assert.match((await page.locator('#activities-title ~ p .zone-name').textContent()) ?? '', /^Asia\/Shanghai, UTC\+08:00$/);

    // The commodity picker lists the commodities; picking one suggests its price.
    const picker = page.locator('#activity-form select[name="commodityId"]');
    await page.waitForFunction('document.querySelectorAll(\'#activity-form select[name="commodityId"] option\').length >= 3');
    assert.match((await picker.locator(`option[value="${kettle.body.commodity.id}"]`).textContent()) ?? '', new RegExp(`^#${kettle.body.commodity.id} Kettle · .*25\\.00$`));
    await picker.selectOption(kettle.body.commodity.id);
    assert.equal(await page.locator('#activity-form input[name="price"]').inputValue(), '25.00');
    // The date inputs say their zone, and what UTC time they mean.
    assert.match((await page.locator('#activity-form label', { hasText: 'Starts' }).textContent()) ?? '', /Asia\/Shanghai, UTC\+08:00/);
    await page.locator('#activity-form input[name="startAt"]').fill('2030-01-02T08:00:00');
    assert.equal(await page.locator('#activity-startAt-utc').textContent(), '= 2030-01-02T00:00:00Z (UTC)');
    await page.locator('#activity-form input[name="name"]').fill('Kettle morning');
    await page.locator('#activity-form input[name="endAt"]').fill('2030-01-02T09:00:00');
    await page.getByRole('button', { name: 'Create activity' }).click();
    await page.locator('#activity-result', { hasText: 'Created activity' }).waitFor();
    const created = (await t.admin('GET', '/api/v1/admin/activities')).body.activities[0];
    assert.deepEqual([created.name, created.commodityId, created.startAt], ['Kettle morning', kettle.body.commodity.id, '2030-01-02T00:00:00.000Z']);
    assert.equal(await row(page, created.id).locator('.badge').textContent(), 'Upcoming');

    // Pause: the buyers are refused; resume; edit; end now.
    await page.getByRole('button', { name: `Pause activity ${live.id}` }).click();
    await row(page, live.id).locator('.badge', { hasText: 'Paused' }).waitFor();
    const refused = await t.buy('buyer1', live.id, 'r1');
    assert.deepEqual([refused.status, refused.body.error.code], [403, 'PAUSED']);
    // The buyers' page says so.
    const product = await context.newPage();
    await product.goto(`${t.url}/activities/${live.id}`);
    await product.locator('#status[data-status="PAUSED"]').waitFor({ timeout: 10_000 });
    await product.close();
    await page.getByRole('button', { name: `Resume activity ${live.id}` }).click();
    await row(page, live.id).locator('.badge', { hasText: 'Live' }).waitFor();

    await page.getByRole('button', { name: `Edit activity ${live.id}` }).click();
    await page.locator('#edit-form input[name="name"]').fill('Renamed sale');
    await page.locator('#edit-form input[name="price"]').fill('8.80');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-result', { hasText: 'Saved activity' }).waitFor();
    await row(page, live.id).locator('td[data-label="Name"]', { hasText: 'Renamed sale' }).waitFor();
    assert.match((await row(page, live.id).locator('td[data-label="Price"]').textContent()) ?? '', /8\.80$/);

    await page.getByRole('button', { name: `End activity ${live.id} now` }).click();
    await row(page, live.id).locator('.badge', { hasText: 'Ended' }).waitFor();
    assert.equal(await page.getByRole('button', { name: `Pause activity ${live.id}` }).count(), 0, 'an ended sale has no pause');

    // The audit panel names the operator for each action.
    await page.locator('#audit-body tr[data-action="activity.end"]').waitFor();
    const audit = await page.locator('#audit-body tr').evaluateAll((rows) =>
      rows.map((r) => [r.querySelector('td[data-label="Who"]')?.textContent, r.querySelector('td[data-label="Action"]')?.textContent]),
    );
    const mine = audit.filter(([who]) => who?.startsWith('Olga@token:')).map(([, action]) => action);
    assert.deepEqual(mine.slice(0, 5), ['activity.end', 'activity.update', 'activity.resume', 'activity.pause', 'activity.create']);
    await shot(page, '20-console');

    // A phone: nothing scrolls sideways, and the last columns of a row are on screen.
    await page.setViewportSize(PHONE);
    await page.waitForFunction('document.scrollingElement.scrollWidth <= 390', undefined, { timeout: 5_000 }).catch(() => {});
    assert.ok(((await page.evaluate('document.scrollingElement.scrollWidth')) as number) <= PHONE.width, 'no sideways scroll at 390 px');
    for (const label of ['Status', 'Ends', 'Anti-bot', 'Actions']) {
      const box = await row(page, created.id).locator(`td[data-label="${label}"]`).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `${label} is within the 390 px screen: ${JSON.stringify(box)}`);
    }
    const pause = await page.getByRole('button', { name: `Pause activity ${created.id}` }).boundingBox();
    assert.ok(pause && pause.x + pause.width <= PHONE.width, 'the pause button is reachable');
    const who = await page.locator('#audit-body tr').first().locator('td[data-label="Who"]').boundingBox();
    assert.ok(who && who.x + who.width <= PHONE.width, 'the audit rows fit too');
    await shot(page, '21-console-phone');
    await page.locator('section:has(#activities-table)').screenshot({ path: join(ARTIFACTS, '22-console-phone-activities.png') });
    await context.close();
  });

  test('the product page link opens the page on the public address and says where it is on the ops address', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const ops = await startTestApp({ SECKILL_OPS_PORT: '0' }, 'webconops');
    const context = await browser.newContext({ viewport: DESKTOP });
    try {
      for (const [app, origin] of [
        [t, t.url],
        [ops, ops.app.opsUrl ?? ''],
      ] as const) {
        const { activity } = await app.createSale({ stock: 3 });
        const page = await context.newPage();
        await page.goto(`${origin}/admin`);
        await page.getByLabel('Admin token').fill(TEST_SECRETS.SECKILL_ADMIN_TOKEN);
        await page.getByRole('button', { name: 'Use token' }).click();
        await page.getByRole('button', { name: `Watch activity ${activity.id} live` }).click();
        const link = page.locator('#product-link');
        if (app === t) {
          await page.locator('#product-link', { hasText: 'Open the product page' }).waitFor();
          assert.equal(await link.getAttribute('href'), `/activities/${activity.id}`);
          assert.equal((await page.request.get(`${origin}/activities/${activity.id}`)).status(), 200);
        } else {
          await page.locator('#product-link', { hasText: 'on the public address' }).waitFor();
          assert.equal(await link.textContent(), `Product page: /activities/${activity.id} on the public address (this is the ops address)`);
          assert.equal(await link.getAttribute('href'), null, 'no link to a page this address does not serve');
        }
        await page.close();
      }
    } finally {
      await context.close();
      await ops.close();
    }
  });
});
