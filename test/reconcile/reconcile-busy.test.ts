/**
 * Reconciliation reloads the counter only while the order pipeline is idle. A worker killed
 * between its Redis settle (inside its MySQL transaction) and its COMMIT leaves a batch in neither
 * Redis's in-flight reservations nor MySQL, only in Kafka; a reload then offered its units again and
 * the redelivered messages took them in MySQL too: one winner more than units, ending FAILED
 * OUT_OF_STOCK (fault campaign, long single seed 3008). Here the settle without a COMMIT is made by
 * hand: the reservations are gone from Redis while MySQL still has every unit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createReconciler } from '../../src/reconcile/reconcile.ts';
import { startTestApp, type TestApp } from '../support/http.ts';

let t: TestApp;
before(async () => {
  // No worker in this process: the reservations stay unpersisted, as behind a dead worker.
  t = await startTestApp({ SECKILL_ROLES: 'api', SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'recbusy');
});
after(async () => {
  await t?.close();
});

function reconcilerWith(idle: boolean) {
  const { db, redis, keys, log } = t.app.infra;
  return createReconciler({ ...t.app.services, db, redis, keys, log, orderPipelineIdle: async () => idle });
}

test('a busy pipeline: the counter is not raised for a batch settled in Redis but not committed', async () => {
  const { activity } = await t.createSale({ stock: 5, limitPerUser: 1 });
  const { redis, keys } = t.app.infra;
  for (const user of ['rb1', 'rb2']) assert.equal((await t.buy(user, activity.id, 'r1')).status, 202);
  const k = keys.activity(String(activity.id));
  // The worker settled both reservations, then died before its COMMIT: MySQL still has 5 units.
  const inFlight = await redis.hkeys(k.reservations);
  assert.equal(inFlight.length, 2);
  await redis.hdel(k.reservations, ...inFlight);
  assert.equal(Number(await redis.get(k.remaining)), 3);

  const report = await reconcilerWith(false).reconcile({ ...activity, id: String(activity.id) });
  assert.equal(Number(await redis.get(k.remaining)), 3, 'the two units in Kafka are not offered again');
  assert.deepEqual(report.after, { remaining: 3 });
  assert.equal(report.repaired, false);
});
