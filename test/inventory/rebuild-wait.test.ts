/**
 * A rebuild of a lost Redis gate waits for the order pipeline whenever the sale has started, even
 * while MySQL still shows the full stock. With the worker behind (restarting, or slower than the
 * crowd) every reservation can be in Kafka and none in MySQL yet; a rebuild from MySQL alone would
 * then offer every unit again, and each winner's order would end FAILED OUT_OF_STOCK (fault
 * campaign seed 1: 34 of 44 winners, after the worker was killed and Redis restarted empty). A
 * pipeline that does not drain in time is answered BUSY and nothing is loaded, however long it
 * lasts: going ahead would hand out more 202s than units. A sale that has not started, or was just
 * created, has nothing in flight and is loaded at once; the worker's own clamp never rebuilds a
 * gate Redis lost (more of the sale may be behind its batch).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createInventory } from '../../src/inventory/inventory.ts';
import { createKeys, type Keys } from '../../src/redis/keys.ts';
import { deleteRedisPrefix } from '../support/env.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'lcrebuild');
});
after(async () => {
  await t?.close();
});

/**
 * An inventory like the app's, whose pipeline check is counted and says "idle" on the `idleAfter`-th
 * ask. With `own` keys it works on a Redis namespace of its own, where every activity starts lost
 * and the app's stock sweeper (which would rebuild a wiped gate within seconds) never looks.
 */
const ownKeys = () => createKeys(`${t.env.config.redis.prefix}own${Math.random().toString(36).slice(2, 8)}`);
function countingInventory(idleAfter: number, keys: Keys = t.app.infra.keys) {
  const { db, redis } = t.app.infra;
  const asked = { count: 0 };
  const inventory = createInventory(db, redis, keys, t.app.services.soldOut, {
    orderPipeline: { mark: async () => new Map(), passed: async () => ++asked.count >= idleAfter },
    drainWaitMs: 1000,
  });
  return { inventory, asked };
}



test('a started sale that Redis lost waits for the pipeline, though MySQL shows the full stock', async () => {
  const { activity } = await t.createSale({ stock: 5 });
  // MySQL still holds the full stock (as while the worker is behind); then Redis loses the sale.
  await deleteRedisPrefix(t.env.config.redis.prefix, t.env.env.SECKILL_REDIS_URL);
  const { inventory, asked } = countingInventory(2);
  await inventory.loadFromTruth({ id: String(activity.id), segments: 1, shards: 1 });
  assert.equal(asked.count, 2, 'the rebuild asked the pipeline until it was idle');
});

test('a sale that has not started is loaded without waiting', async () => {
  const { activity } = await t.createSale({ stock: 5, startAt: new Date(Date.now() + 3_600_000), endAt: new Date(Date.now() + 7_200_000) });
  await deleteRedisPrefix(t.env.config.redis.prefix, t.env.env.SECKILL_REDIS_URL);
  const { inventory, asked } = countingInventory(1);
  const loaded = await inventory.loadFromTruth({ id: String(activity.id), segments: 1, shards: 1 });
  assert.equal(asked.count, 0);
  assert.equal(loaded.after, 5);
});

test('a pipeline that does not drain: BUSY and nothing loaded, then loaded once it has drained', async () => {
  const { activity } = await t.createSale({ stock: 5 });
  const id = String(activity.id);
  const keys = ownKeys();
  const remaining = () => t.app.infra.redis.exists(keys.activity(id).remaining);
  const stuck = countingInventory(Number.POSITIVE_INFINITY, keys);
  await assert.rejects(stuck.inventory.loadFromTruth({ id, segments: 1, shards: 1 }), { code: 'BUSY' });
  assert.ok(stuck.asked.count > 1, 'it waited for the pipeline before giving up');
  assert.equal(await remaining(), 0, 'nothing offered while reservations may be in Kafka');
  // The sweep skips it (and goes on with the other activities) rather than failing.
  assert.deepEqual((await stuck.inventory.reloadMissing()).filter((r) => r.activityId === id), []);
  assert.equal(await remaining(), 0);

  const drained = countingInventory(1, keys);
  assert.equal((await drained.inventory.loadFromTruth({ id, segments: 1, shards: 1 })).after, 5);
  await deleteRedisPrefix(keys.prefix, t.env.env.SECKILL_REDIS_URL);
});

test("the worker's clamp sets a loaded gate to the truth and leaves a lost one for a rebuild that waits", async () => {
  const { activity } = await t.createSale({ stock: 5 });
  const id = String(activity.id);
  assert.equal((await countingInventory(1).inventory.clampToTruth({ id, segments: 1, shards: 1 }))?.after, 5, 'a loaded gate is clamped');
  const keys = ownKeys();
  const { inventory, asked } = countingInventory(Number.POSITIVE_INFINITY, keys);
  assert.equal(await inventory.clampToTruth({ id, segments: 1, shards: 1 }), undefined);
  assert.equal(await t.app.infra.redis.exists(keys.activity(id).remaining), 0, 'a lost gate is not rebuilt by the clamp');
  assert.equal(asked.count, 0, 'the clamp never waits on the pipeline it is part of');
});

test('other sales selling meanwhile do not hold off the rebuild: it waits for what was published before the loss', async () => {
  const lost = String((await t.createSale({ stock: 5 })).activity.id);
  const busy = String((await t.createSale({ stock: 100_000, limitPerUser: 1 })).activity.id);
  // The other sale keeps the order topic busy: its lag is rarely 0 while it sells.
  let stop = false;
  let sold = 0;
  const crowd = Array.from({ length: 8 }, async (_, n) => {
    for (let i = 0; !stop; i++) if ((await t.buy(`bg-${n}-${i}`, busy, 'r1')).status === 202) sold += 1;
  });
  try {
    await waitFor(async () => (sold >= 50 ? true : undefined), 30_000, 'the other sale to be selling');
    // Redis loses only this sale (as when the master holding its slot comes back empty).
    const { redis } = t.app.infra;
    const doomed = await redis.keys(`${t.env.config.redis.prefix}:{a${lost}}*`);
    assert.ok(doomed.length > 0);
    await redis.del(...doomed);
    const before = sold;
    const reply = await t.buy('after-the-loss', lost, 'r1');
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    assert.ok(sold > before, 'the other sale sold meanwhile');
    assert.equal((await t.stats(lost)).redis.remaining, 4);
  } finally {
    stop = true;
    await Promise.all(crowd);
  }
});
