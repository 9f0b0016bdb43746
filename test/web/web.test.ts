/**
 * The web pages in a real browser (Debian's Chromium via playwright-core),
 * against the real app on real Redis, MySQL and Kafka: the countdown unlocks the buy button at the
 * start; a buyer wins, sees the Pay button on a phone's first screen, pays through the simulator
 * and sees PAID without reloading; the next buyer sees sold out and joins the waitlist; a cancelled
 * unit is offered to the waitlist and bought; a tab far from the start stays quiet; the challenge
 * is solved before the start; orders still move when the WebSocket is down; a bad link gets a
 * friendly page; the dashboard's numbers move while a small crowd buys, and it lists refunds owed.
 * Both pages fit a 390 px phone. Screenshots go to artifacts/web/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buyPersisted, callback, pay } from '../lifecycle/helpers.ts';
import { type Json, pool, startTestApp, type TestApp } from '../support/http.ts';
import { TEST_SECRETS } from '../support/env.ts';
import { chromiumOrSkip, launchChromium } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'web');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

describe('web pages in a real browser', { timeout: 15 * 60_000 }, () => {
  let skipReason: string | undefined;
  let t: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(
    async () => {
      skipReason = chromiumOrSkip();
      if (skipReason) return;
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

  /** The page is no wider than its viewport: nothing scrolls sideways. */
  async function assertNoHorizontalOverflow(page: Page, what: string): Promise<void> {
    const width = (await page.evaluate('document.scrollingElement.scrollWidth')) as number;
    const viewport = page.viewportSize()?.width ?? 0;
    assert.ok(width <= viewport, `${what}: ${width} px wide in a ${viewport} px viewport`);
  }

  /** Every request the page makes from now on (method, path, time). */
  function recordRequests(page: Page): Array<{ method: string; path: string; at: number; body: string | null }> {
    const seen: Array<{ method: string; path: string; at: number; body: string | null }> = [];
    page.on('request', (r) => seen.push({ method: r.method(), path: new URL(r.url()).pathname, at: Date.now(), body: r.postData() }));
    return seen;
  }

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
    assert.match((await page.locator('#start-time').textContent()) ?? '', /^Starts .*\d\d:\d\d:\d\d/, 'the absolute start time beside the countdown');
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
    // On a phone the Pay button is on the first screen, without scrolling.
    await page.evaluate('window.scrollTo(0, 0)');
    const payBottom = (await page.evaluate('document.getElementById("pay").getBoundingClientRect().bottom')) as number;
    assert.ok(payBottom > 0 && payBottom <= PHONE.height, `Pay button bottom at ${payBottom} px of ${PHONE.height}`);
    await assertNoHorizontalOverflow(page, 'product page, pending payment');
    await page.screenshot({ path: join(ARTIFACTS, '03-pending-payment.png') });

    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.locator('#order-status[data-status="PAID"]').waitFor({ timeout: 15_000 });
    assert.deepEqual(navigations, [], 'PAID arrived without a reload');
    assert.equal(await page.locator('#pay').isHidden(), true);
    // Nothing stale once paid: no "reserved for you" line, no "Pay within –".
    assert.equal(await page.locator('#message').textContent(), '');
    assert.equal(await page.locator('#order-deadline-fact').isHidden(), true);
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
    assert.equal(await page.locator('#remaining').textContent(), '0 of 1');
    assert.equal(await page.locator('#sold-percent').textContent(), '100% sold');

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
    // The charts follow their container; nothing scrolls sideways on a phone.
    await page.waitForFunction('document.scrollingElement.scrollWidth <= 390', undefined, { timeout: 5_000 }).catch(() => {});
    await assertNoHorizontalOverflow(page, 'dashboard at 390 px');
    await shot(page, '09-dashboard-phone');
  });

  test('a cancelled unit is offered to the waitlist, and the offered buyer takes it', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const { activity } = await t.createSale({ stock: 1 });
    const holder = await newPage();
    await holder.goto(`${t.url}/activities/${activity.id}`);
    await signIn(holder, 'dave');
    await holder.locator('#buy:not([disabled])').click();
    await holder.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 15_000 });

    const waiter = await newPage();
    await waiter.goto(`${t.url}/activities/${activity.id}`);
    await signIn(waiter, 'erin');
    await waiter.locator('#status[data-status="SOLD_OUT"]').waitFor({ timeout: 10_000 });
    await waiter.getByRole('button', { name: 'Join the waitlist' }).click();
    await waiter.locator('#waitlist-state[data-status="WAITING"]').waitFor();

    await holder.getByRole('button', { name: 'Cancel order' }).click();
    await holder.locator('#order-status[data-status="CANCELLED"]').waitFor({ timeout: 15_000 });
    assert.match((await holder.locator('#order-note').textContent()) ?? '', /You cancelled this order/);
    assert.equal(await holder.locator('#pay').isHidden(), true);
    assert.equal(await holder.locator('#cancel').isHidden(), true);
    await shot(holder, '10-cancelled');

    // The offer is pushed over the WebSocket; the button unlocks for the offered buyer.
    await waiter.locator('#waitlist-state[data-status="OFFERED"]').waitFor({ timeout: 15_000 });
    await waiter.locator('#buy:not([disabled])').waitFor({ timeout: 5_000 });
    await shot(waiter, '11-waitlist-offer');
    await waiter.locator('#buy').click();
    await waiter.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 15_000 });
    const mine = await t.user('erin', 'GET', `/api/v1/activities/${activity.id}/my-order`);
    assert.equal(mine.status, 200);
    assert.equal(mine.body.order.status, 'PENDING_PAYMENT');
  });

  test('far from the start a tab stays quiet: no polling storm; it shows the deal and the start time', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const commodity = await t.admin('POST', '/api/v1/admin/commodities', { name: '茅台 Bottle', priceCents: 2999, description: 'an aged bottle' });
    const startAt = new Date(Date.now() + 15 * 60_000);
    const created = await t.admin('POST', '/api/v1/admin/activities', {
      name: 'Evening sale',
      commodityId: commodity.body.commodity.id,
      priceCents: 1999,
      stock: 10,
      startAt: startAt.toISOString(),
      endAt: new Date(startAt.getTime() + 3_600_000).toISOString(),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.activity.id as string;
    const page = await newPage();
    const requests = recordRequests(page);
    await page.goto(`${t.url}/activities/${id}`);
    await page.locator('#name', { hasText: 'Bottle' }).waitFor();
    await signIn(page, 'frank');
    // Long enough for the fixed 2 s poll this replaces to have asked 5 times.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const api = requests.filter((r) => r.path.startsWith('/api/'));
    const activityGets = api.filter((r) => r.method === 'GET' && r.path === `/api/v1/activities/${id}`);
    const timeGets = api.filter((r) => r.path === '/api/v1/time');
    assert.equal(activityGets.length, 1, `activity fetched once, not polled: ${JSON.stringify(activityGets)}`);
    assert.ok(timeGets.length <= 4, `clock synced once (${timeGets.length} samples)`);
    // time ×4, activity, sign-in, my-order, waitlist, WebSocket: nothing periodic.
    assert.ok(api.length <= 10, `${api.length} API requests in 10 s: ${api.map((r) => `${r.method} ${r.path}`).join(', ')}`);

    assert.match((await page.locator('#price').textContent()) ?? '', /19\.99/);
    assert.match((await page.locator('#original-price').textContent()) ?? '', /29\.99/, 'the original price beside the sale price');
    assert.equal(await page.locator('#discount').textContent(), '−33%');
    assert.equal(await page.locator('#remaining').textContent(), '10 of 10');
    assert.equal(await page.locator('#sold-percent').textContent(), '0% sold');
    const expected = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit' }).format(startAt);
    const when = (await page.locator('#start-time').textContent()) ?? '';
    assert.ok(when.startsWith('Starts ') && when.includes(expected.slice(0, 5)), `absolute local start time: "${when}" (expected ${expected})`);
    assert.match((await page.locator('#countdown').textContent()) ?? '', /^Starts in 1[45]:\d\d$/);
    await assertNoHorizontalOverflow(page, 'product page at 390 px');
    await page.screenshot({ path: join(ARTIFACTS, '12-far-from-start-phone.png') });
    await page.setViewportSize(DESKTOP);
    await shot(page, '13-far-from-start-desktop');
  });

  test('the challenge is solved before the start, so the click at the start sends it at once', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const { commodityId } = await t.createSale({ stock: 2 });
    // Challenges are issued from 30 s before the start: open the page a little before that.
    const startAt = new Date(Date.now() + 36_000);
    const created = await t.admin('POST', '/api/v1/admin/activities', {
      name: 'Guarded evening sale',
      commodityId,
      priceCents: 990,
      stock: 2,
      startAt: startAt.toISOString(),
      endAt: new Date(startAt.getTime() + 3_600_000).toISOString(),
      antiBot: 'challenge',
      // ~65k hashes on average: long enough that solving at the click would be felt, short enough
      // that the browser's worker finishes within the fetch window (at least 12 s) on a busy CI core.
      challengeDifficulty: 16,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.activity.id as string;
    const page = await newPage(DESKTOP);
    const requests = recordRequests(page);
    const issued: string[] = [];
    page.on('response', async (r) => {
      if (r.request().method() === 'POST' && r.url().endsWith(`/api/v1/activities/${id}/challenge`) && r.status() === 201) {
        issued.push(((await r.json()) as Json).challenge.challengeId);
      }
    });
    await page.goto(`${t.url}/activities/${id}`);
    await signIn(page, 'gina');
    await page.locator('#challenge[data-state="done"]').waitFor({ timeout: 60_000 });
    const solvedAt = Date.now();
    assert.ok(solvedAt < startAt.getTime(), `solved ${solvedAt - startAt.getTime()} ms after the start`);
    const challengePosts = requests.filter((r) => r.path === `/api/v1/activities/${id}/challenge`);
    assert.equal(challengePosts.length, 1);
    const fetchedAt = (challengePosts[0] as { at: number }).at;
    assert.ok(fetchedAt >= startAt.getTime() - 30_000, `fetched ${startAt.getTime() - fetchedAt} ms before the start (issued from 30 s)`);
    assert.equal(await page.locator('#buy').isDisabled(), true, 'still before the start');
    await shot(page, '14-challenge-presolved');

    await page.waitForFunction('!document.getElementById("buy").disabled', undefined, { timeout: 40_000, polling: 'raf' });
    const clickedAt = Date.now();
    await page.locator('#buy').click();
    await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 15_000 });
    const purchase = requests.find((r) => r.path === `/api/v1/activities/${id}/purchase`);
    assert.ok(purchase, 'a purchase was sent');
    assert.ok(purchase.at - clickedAt < 1_000, `the purchase left ${purchase.at - clickedAt} ms after the click (no solving in between)`);
    const body = JSON.parse(purchase.body ?? '{}') as Json;
    assert.equal(body.challenge?.challengeId, issued[0], 'it carries the pre-solved challenge');
    assert.equal(requests.filter((r) => r.path === `/api/v1/activities/${id}/challenge`).length, 1, 'no second challenge at the click');
  });

  test('with the WebSocket down, the order still moves by polling', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const { activity } = await t.createSale({ stock: 2 });
    const page = await newPage();
    // Every socket the page opens is closed at once, as by a proxy that does not pass WebSockets.
    let sockets = 0;
    await page.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
      sockets++;
      void ws.close({ code: 1011, reason: 'no websockets here' });
    });
    const requests = recordRequests(page);
    await page.goto(`${t.url}/activities/${activity.id}`);
    await signIn(page, 'hank');
    await page.locator('#buy:not([disabled])').click();
    await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#live-mode').textContent(), 'Live updates: polling');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.locator('#order-status[data-status="PAID"]').waitFor({ timeout: 20_000 });
    const polls = requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/orders/'));
    assert.ok(polls.length >= 1, 'the status came from GET /api/v1/orders/{id}');
    assert.ok(sockets >= 1, 'the page tried the WebSocket');
    // Redialled with back-off, not every second.
    assert.ok(sockets <= 6, `${sockets} WebSocket attempts`);
    await shot(page, '15-paid-by-polling');
  });

  test('a bad link gets a friendly page; the favicon is there', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    const page = await newPage();
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/')) failed.push(`${r.status()} ${r.url()}`);
    });
    const malformed = await page.goto(`${t.url}/activities/abc`);
    assert.equal(malformed?.status(), 404);
    assert.equal(await page.locator('h1').textContent(), 'We could not find that sale');
    assert.doesNotMatch((await page.content()) ?? '', /INVALID_REQUEST/);
    await assertNoHorizontalOverflow(page, 'not-found page');
    await shot(page, '16-bad-link');

    await page.goto(`${t.url}/activities/987654321987`);
    await page.locator('#name', { hasText: 'We could not find that sale' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#buy').isHidden(), true);
    await shot(page, '17-no-such-sale');
    const icon = await page.request.get(`${t.url}/favicon.ico`);
    assert.equal(icon.status(), 200);
    assert.match(icon.headers()['content-type'] ?? '', /^image\/svg\+xml/);
    assert.deepEqual(
      failed.filter((f) => !f.startsWith('404 ') || !f.includes('/activities/abc')),
      [],
      'no asset or icon request failed',
    );
  });

  test('the dashboard lists refunds owed and marks one refunded', async (tc) => {
    if (skipReason) return tc.skip(skipReason);
    // Its own app without the payment simulator: the late payments are made by hand below.
    const own = await startTestApp({}, 'webrf');
    try {
      const page = await newPage();
      await page.goto(`${own.url}/admin`);
      await page.getByLabel('Admin token').fill(TEST_SECRETS.SECKILL_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.locator('#refunds-summary[data-state="none"]').waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#refunds-summary').textContent(), 'No refunds owed.');

      // Two buyers pay after cancelling: the payments succeed too late and are owed back.
      const { activity } = await own.createSale({ stock: 3, priceCents: 1250 });
      const owed: string[] = [];
      for (const userId of ['ivy', 'jack']) {
        const order = await buyPersisted(own, userId, activity.id);
        const payment = await pay(own, userId, order.orderId);
        assert.equal((await own.user(userId, 'POST', `/api/v1/orders/${order.orderId}/cancel`)).status, 200);
        const late = await callback(own, { paymentId: payment.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents });
        assert.equal(late.status, 200);
        owed.push(payment.paymentId);
      }
      await page.locator('#refresh-refunds').click();
      await page.locator('#refunds-summary[data-state="owed"]').waitFor({ timeout: 10_000 });
      assert.match((await page.locator('#refunds-summary').textContent()) ?? '', /^2 refunds owed, .*25\.00 in total\.$/);
      assert.equal(await page.locator('#refunds-body tr').count(), 2);
      await assertNoHorizontalOverflow(page, 'dashboard with refunds at 390 px');
      await shot(page, '18-refunds-phone');

      await page.getByRole('button', { name: `Mark payment ${owed[0]} refunded` }).click();
      await page.locator('#refunds-summary', { hasText: /^1 refund owed/ }).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#refunds-body tr').count(), 1);
      assert.equal(await page.locator(`#refunds-body tr[data-payment="${owed[1]}"]`).count(), 1);
      const left = await own.admin('GET', '/api/v1/admin/refunds');
      assert.equal(left.body.count, 1);
      const done = await own.admin('GET', '/api/v1/admin/refunds?status=REFUNDED');
      assert.deepEqual(
        done.body.refunds.map((r: Json) => r.paymentId),
        [owed[0]],
      );
      await page.setViewportSize(DESKTOP);
      await shot(page, '19-refunds-desktop');
    } finally {
      await own.close();
    }
  });
});
