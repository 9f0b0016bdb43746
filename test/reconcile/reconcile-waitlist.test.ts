/**
 * Repair and fairness: a crash between the MySQL cancel and the Redis return is repaired
 * by reconciliation to the exact count (and only once) (reservations whose publish was lost:
 * reconcile-orphans.test.ts); the waitlist offers returned units in join order, the
 * offered user buys with the normal purchase while others see SOLD_OUT, and an unused offer
 * passes to the next.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, rid, sides } from '../lifecycle/helpers.ts';

describe('reconciliation and waitlist', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_WAITLIST_OFFER_SECONDS: '2', SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'lcrec');
  });
  after(async () => {
    await t?.close();
  });

  test('crash between the MySQL cancel and the Redis return → reconcile restores the exact count, once', async () => {
    const { activity } = await t.createSale({ stock: 3 });
    const order = await buyPersisted(t, 'kim', activity.id);
    assert.deepEqual(await sides(t, activity.id), { available: 2, locked: 1, sold: 0, remaining: 2 });
    // The MySQL step of a cancellation only — its Redis return failed (or the process died).
    const { db } = t.app.infra;
    await db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('orders').selectAll().where('id', '=', order.orderId).forUpdate().executeTakeFirstOrThrow();
      const cancelled = await t.app.services.cancellation.cancelInMysql(trx, [row], 'USER_CANCELLED');
      assert.equal(cancelled.length, 1);
    });
    assert.deepEqual(await sides(t, activity.id), { available: 3, locked: 0, sold: 0, remaining: 2 }, 'Redis missed the unit');
    assert.equal((await t.buy('kim', activity.id, rid()))?.body.error?.code, 'LIMIT_EXCEEDED', 'Redis still counts kim');

    const first = await t.admin('POST', `/api/v1/admin/activities/${activity.id}/reconcile`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { activityId: activity.id, before: { remaining: 2 }, after: { remaining: 3 }, repaired: true });
    const second = await t.admin('POST', `/api/v1/admin/activities/${activity.id}/reconcile`);
    assert.deepEqual(second.body, { activityId: activity.id, before: { remaining: 3 }, after: { remaining: 3 }, repaired: false });
    assert.deepEqual(await sides(t, activity.id), { available: 3, locked: 0, sold: 0, remaining: 3 });
    // The late retry of the crashed process's restock is a no-op (marker).
    await t.app.services.cancellation.returnUnits([{ ...order, status: 'CANCELLED', reason: 'USER_CANCELLED' }]);
    assert.equal((await sides(t, activity.id)).remaining, 3);
    assert.equal((await buyPersisted(t, 'kim', activity.id)).status, 'PENDING_PAYMENT', 'kim may buy again');
  });

  test('waitlist: join only when sold out, offers in order, holder buys, others SOLD_OUT, unused offer passes on', async () => {
    const { activity } = await t.createSale({ stock: 1 });
    const path = `/api/v1/activities/${activity.id}/waitlist`;
    const early = await t.user('w1', 'POST', path);
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'NOT_SOLD_OUT');

    const owner = await buyPersisted(t, 'owner', activity.id);
    await waitFor(async () => (await sides(t, activity.id)).remaining === 0, 5000, 'sold out');
    const j1 = await t.user('w1', 'POST', path);
    assert.equal(j1.status, 201);
    assert.deepEqual(j1.body, { waitlist: { position: 1, status: 'WAITING' } });
    assert.deepEqual((await t.user('w1', 'POST', path)).body, j1.body, 'joining twice returns the same entry');
    assert.deepEqual((await t.user('w2', 'POST', path)).body, { waitlist: { position: 2, status: 'WAITING' } });
    assert.deepEqual((await t.user('w3', 'POST', path)).body, { waitlist: { position: 3, status: 'WAITING' } });
    assert.equal((await t.user('w3', 'DELETE', path)).status, 204);
    assert.equal((await t.user('w3', 'GET', path)).status, 404);
    assert.equal((await t.user('nobody', 'GET', path)).status, 404);

    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/ws?token=${t.token('w1')}`);
    const pushed: unknown[] = [];
    ws.on('message', (data) => pushed.push(JSON.parse(String(data))));
    await new Promise((resolve) => ws.once('open', resolve));

    // The owner cancels: the unit goes to w1 first, not to the crowd.
    assert.equal((await t.user('owner', 'POST', `/api/v1/orders/${owner.orderId}/cancel`)).status, 200);
    const offered = await t.user('w1', 'GET', path);
    assert.equal(offered.body.waitlist.status, 'OFFERED');
    assert.ok(Date.parse(offered.body.waitlist.offerExpiresAt) > Date.now());
    assert.deepEqual((await t.user('w2', 'GET', path)).body, { waitlist: { position: 1, status: 'WAITING' } });
    assert.equal((await t.buy('crowd', activity.id, rid())).body.error.code, 'SOLD_OUT', 'the held unit is not for the crowd');
    await waitFor(() => pushed.some((m) => (m as { type: string }).type === 'waitlist'), 3000, 'waitlist push');
    assert.deepEqual(
      (pushed.find((m) => (m as { type: string }).type === 'waitlist') as { waitlist: unknown }).waitlist,
      { activityId: activity.id, status: 'OFFERED', offerExpiresAt: offered.body.waitlist.offerExpiresAt },
    );
    ws.close();

    // w1 lets the offer expire: it passes to w2.
    await waitFor(async () => (await t.user('w2', 'GET', path)).body.waitlist?.status === 'OFFERED', 6000, 'offer passes to w2');
    assert.equal((await t.user('w1', 'GET', path)).body.waitlist.status, 'EXPIRED');
    assert.equal((await t.buy('w1', activity.id, rid())).body.error.code, 'SOLD_OUT', 'an expired offer buys nothing');
    assert.equal((await t.buy('crowd', activity.id, rid())).body.error.code, 'SOLD_OUT');

    // w2 buys with the normal purchase, within the window.
    const bought = await buyPersisted(t, 'w2', activity.id);
    assert.equal(bought.status, 'PENDING_PAYMENT');
    assert.equal((await t.user('w2', 'GET', path)).status, 404, 'the entry is used up');
    await waitFor(async () => (await sides(t, activity.id)).locked === 1, 5000, 'persisted');
    assert.deepEqual(await sides(t, activity.id), { available: 0, locked: 1, sold: 0, remaining: 0 });
  });

  test('a held unit nobody takes goes back on open sale', async () => {
    const { activity } = await t.createSale({ stock: 1 });
    const path = `/api/v1/activities/${activity.id}/waitlist`;
    const owner = await buyPersisted(t, 'owner2', activity.id);
    await waitFor(async () => (await sides(t, activity.id)).remaining === 0, 5000, 'sold out');
    assert.equal((await t.user('x1', 'POST', path)).status, 201);
    await t.user('owner2', 'POST', `/api/v1/orders/${owner.orderId}/cancel`);
    assert.equal((await t.user('x1', 'GET', path)).body.waitlist.status, 'OFFERED');
    assert.equal((await sides(t, activity.id)).remaining, 0);
    await waitFor(async () => (await sides(t, activity.id)).remaining === 1, 6000, 'the unit returns to open sale');
    assert.equal((await buyPersisted(t, 'someone', activity.id)).status, 'PENDING_PAYMENT');
  });
});
