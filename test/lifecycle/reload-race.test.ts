/**
 * Cancellations racing reloads: preheat/reconcile set Redis from MySQL's `available` under the
 * stock row lock. If a cancellation released units in MySQL and returned them to Redis in two
 * unlocked steps, a reload in between would count those units twice and Redis would offer more
 * than MySQL has. Many cancels with reloads firing all the while must end with Redis exactly equal
 * to MySQL, and buying everything back must produce no FAILED (out of stock) order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, rid, sides } from './helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'lcreload');
});
after(async () => {
  await t?.close();
});

test('user cancels racing preheat and reconcile never count a unit twice', async () => {
  const units = 40;
  const { activity } = await t.createSale({ stock: units });
  const buyers = Array.from({ length: units }, (_, i) => `rr${i}`);
  const orders = await pool(
    buyers.map((u) => () => buyPersisted(t, u, activity.id)),
    10,
  );
  assert.deepEqual(await sides(t, activity.id), { available: 0, locked: units, sold: 0, remaining: 0 });

  let reloading = true;
  const reloads = (async () => {
    for (let i = 0; reloading; i++) {
      const path = `/api/v1/admin/activities/${activity.id}/${i % 2 === 0 ? 'preheat' : 'reconcile'}`;
      assert.equal((await t.admin('POST', path)).status, 200);
    }
  })();
  await pool(
    orders.map((o, i) => async () => {
      const res = await t.user(buyers[i]!, 'POST', `/api/v1/orders/${o.orderId}/cancel`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }),
    8,
  );
  reloading = false;
  await reloads;
  assert.deepEqual(await sides(t, activity.id), { available: units, locked: 0, sold: 0, remaining: units });

  // Sell everything again, with more buyers than units: no order may fail for want of stock.
  const accepted = (
    await pool(
      Array.from({ length: units + 20 }, (_, i) => () => t.buy(`again${i}`, activity.id, rid('again'))),
      10,
    )
  ).filter((r) => r.status === 202);
  assert.equal(accepted.length, units);
  const stats = await waitFor(async () => {
    const s = await t.stats(activity.id);
    return s.orders.QUEUED === 0 && s.db.locked === units ? s : undefined;
  });
  assert.equal(stats.orders.FAILED, 0);
  assert.equal(stats.redis.remaining, 0);
});
