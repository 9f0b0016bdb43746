/**
 * A reservation whose publish is unacknowledged lives only in Redis and in its API process's
 * memory. When Redis loses it (restarted empty, a failover that dropped the write) the process
 * writes it back, so a rebuild from MySQL does not sell its unit again (fault campaign, cluster
 * seed 32: the broker killed, then every Redis node emptied 0.6 s later; the ~7 buyers answered 202
 * in between were sold a second time and their orders ended FAILED OUT_OF_STOCK). Written back
 * before the rebuild, the reservation is subtracted and its buyer's count and answer come back;
 * after it, its unit is taken back from open sale. A reservation the worker persisted is never
 * brought back, and one whose publish failed was released on purpose.
 *
 * Each test works on a Redis namespace of its own, which the app's stock sweeper never rebuilds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Activity } from '../../src/domain/activity.ts';
import { reservationMessage } from '../../src/domain/order.ts';
import { createInventory } from '../../src/inventory/inventory.ts';
import { createUnsettledPublishes } from '../../src/purchase/unsettled-publishes.ts';
import { createKeys, homeShard, type Keys } from '../../src/redis/keys.ts';
import { listReservations, reserve } from '../../src/redis/reservations.ts';
import { remaining } from '../../src/redis/stock.ts';
import { deleteRedisPrefix } from '../support/env.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'lostres');
});
after(async () => {
  await t?.close();
});

interface World {
  keys: Keys;
  activity: Activity;
  inventory: ReturnType<typeof createInventory>;
  unsettled: ReturnType<typeof createUnsettledPublishes>;
  /** Reserves one unit for `userId` as the purchase path does and registers its publish as unacknowledged. */
  buy(userId: string, requestId: string, options?: { confirmed?: boolean }): Promise<string>;
  replay(userId: string, requestId: string): ReturnType<typeof reserve>;
  wipe(): Promise<void>;
  units(): Promise<number | undefined>;
  userUnits(userId: string): Promise<number>;
}

async function world(stock: number, shards: number): Promise<World> {
  const { db, redis, log } = t.app.infra;
  const { activity: created } = await t.createSale({ stock, shards, limitPerUser: 1 });
  const activity = (await t.app.services.activities.get(String(created.id)))!;
  const keys = createKeys(`${t.env.config.redis.prefix}own${Math.random().toString(36).slice(2, 8)}`);
  // Nothing is in Kafka for this namespace: the pipeline is idle.
  const inventory = createInventory(db, redis, keys, t.app.services.soldOut, { orderPipeline: { mark: async () => new Map(), passed: async () => true } });
  const unsettled = createUnsettledPublishes({ db, redis, keys, log, metrics: t.app.infra.metrics });
  await inventory.loadFromTruth(activity, { pipeline: 'empty' });
  const input = (userId: string, requestId: string, orderId: string) => ({
    activityId: activity.id,
    userId,
    requestId,
    quantity: 1,
    limitPerUser: 1,
    orderId,
    nowMs: Date.now(),
    ttlSeconds: 3600,
    shards,
  });
  return {
    keys,
    activity,
    inventory,
    unsettled,
    async buy(userId, requestId, { confirmed = true } = {}) {
      const orderId = t.app.services.ids.next();
      const result = await reserve(redis, keys, input(userId, requestId, orderId));
      assert.equal(result.kind, 'reserved', JSON.stringify(result));
      unsettled.add(reservationMessage({ userId, requestId, quantity: 1 }, activity, orderId, Date.now()), activity);
      if (confirmed) unsettled.confirmed(orderId);
      return orderId;
    },
    replay: (userId, requestId) => reserve(redis, keys, input(userId, requestId, t.app.services.ids.next())),
    wipe: () => deleteRedisPrefix(keys.prefix, t.env.env.SECKILL_REDIS_URL),
    units: () => remaining(redis, keys, activity.id, shards),
    userUnits: async (userId) => Number((await redis.get(keys.shard(activity.id, shards, homeShard(userId, shards)).user(userId))) ?? 0),
  };
}

describe('a reservation Redis lost while its publish was unacknowledged', () => {
  for (const shards of [1, 2]) {
    test(`is written back before the rebuild, which then counts it (${shards} shard(s))`, async () => {
      const w = await world(5, shards);
      const orderId = await w.buy('alice', 'r1');
      const waiting = await w.buy('bob', 'r1', { confirmed: false });
      await w.wipe();
      await w.unsettled.check();
      assert.equal(await w.units(), undefined, 'still lost: only the reservations are back');
      assert.deepEqual((await listReservations(t.app.infra.redis, w.keys, w.activity.id, shards)).map((r) => r.orderId).sort(), [orderId, waiting].sort());

      await w.inventory.loadFromTruth(w.activity);
      assert.equal(await w.units(), 3, 'MySQL has 5; two are held by reservations still on their way');
      assert.equal(await w.userUnits('alice'), 1);
      assert.deepEqual(await w.replay('alice', 'r1'), { kind: 'replay', orderId }, 'told 202 before: the same order id');
      assert.deepEqual(await w.replay('bob', 'r1'), { kind: 'pending', orderId: waiting }, 'not told 202 yet: still pending');
      assert.deepEqual(await w.replay('alice', 'r2'), { kind: 'refused', code: 'LIMIT_EXCEEDED' });
      await w.wipe();
    });
  }

  test('written back after the rebuild, its unit is taken back from open sale', async () => {
    const w = await world(5, 1);
    const orderId = await w.buy('carol', 'r1');
    await w.wipe();
    await w.inventory.loadFromTruth(w.activity);
    assert.equal(await w.units(), 5, 'the rebuild could not know');
    const counted = async () => (await t.app.infra.metrics.reconcileRepairedOrders.get()).values.find((v) => v.labels.kind === 'restored')?.value ?? 0;
    const before = await counted();
    await w.unsettled.check();
    assert.equal(await w.units(), 4);
    assert.equal(await counted(), before + 1, 'counted in seckill_reconcile_repaired_orders_total{kind="restored"}');
    assert.equal(await w.userUnits('carol'), 1);
    assert.deepEqual(await w.replay('carol', 'r1'), { kind: 'replay', orderId });
    // Nothing more to do: a second check finds it in place.
    await w.unsettled.check();
    assert.equal(await w.units(), 4);
    await w.wipe();
  });

  test('one whose publish ended (acknowledged, or failed and released) is not written back', async () => {
    const w = await world(5, 1);
    const orderId = await w.buy('dave', 'r1');
    w.unsettled.settled(orderId);
    await w.wipe();
    await w.unsettled.check();
    await w.inventory.loadFromTruth(w.activity);
    assert.equal(await w.units(), 5);
    assert.equal(w.unsettled.size, 0);
    await w.wipe();
  });
});

test('a reservation the worker persisted (its acknowledgement lost) is forgotten, not written back', async () => {
  const { activity } = await t.createSale({ stock: 3, limitPerUser: 1 });
  const id = String(activity.id);
  const bought = await t.buy('erin', id, 'r1');
  assert.equal(bought.status, 202, JSON.stringify(bought.body));
  await waitFor(async () => ((await t.stats(id)).orders.PENDING_PAYMENT === 1 ? true : undefined), 30_000, 'the order to persist');
  const { db, redis, keys, log } = t.app.infra;
  const unsettled = createUnsettledPublishes({ db, redis, keys, log });
  const sale = (await t.app.services.activities.get(id))!;
  unsettled.add(reservationMessage({ userId: 'erin', requestId: 'r1', quantity: 1 }, sale, bought.body.orderId, Date.now()), sale);
  await unsettled.check();
  assert.equal(unsettled.size, 0, 'its order is in MySQL');
  assert.deepEqual(await listReservations(redis, keys, id, 1), []);
  assert.equal((await t.stats(id)).redis.remaining, 2);
});
