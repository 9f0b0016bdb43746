/**
 * Sharded stock for one activity: shard tags land in different slices of the cluster's
 * slot space; N = 1 keeps the keys of before; steals move units between shards without ever
 * creating one; a crash between take and give strands units in transit, where preheat does not
 * sell them and reconciliation completes the transfer exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { homeShard, keySlot, shardTag } from '../../src/redis/keys.ts';
import { allShardKeys } from '../../src/redis/shards.ts';
import { shardRemaining } from '../../src/redis/stock.ts';
import { clearTransit, listTransit, stealGive, stealTake } from '../../src/redis/transfers.ts';
import { createReconciler } from '../../src/reconcile/reconcile.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

describe('shard tags and home shards', () => {
  test('N = 1 keeps the tag {a<id>}; shard i of N lands in the i-th slice of the 16384 slots', () => {
    assert.equal(shardTag('42', 1, 0), 'a42');
    for (const n of [2, 3, 4, 16, 64]) {
      const slots = Array.from({ length: n }, (_, i) => keySlot(shardTag('42', n, i)));
      slots.forEach((slot, i) => {
        assert.ok(slot >= Math.floor((i * 16384) / n) && slot < Math.floor(((i + 1) * 16384) / n), `N=${n} shard ${i} slot ${slot}`);
      });
    }
    // The cluster's own test vector for CRC16 (redis.io cluster spec): "123456789" → 0x31C3.
    assert.equal(keySlot('123456789'), 0x31c3 % 16384);
  });

  test('home shards are stable and spread users', () => {
    assert.equal(homeShard('alice', 1), 0);
    assert.equal(homeShard('alice', 4), homeShard('alice', 4));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[homeShard(`user-${i}`, 4)]! += 1;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven: ${counts.join(',')}`);
  });
});

describe('steals between shards', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'shard');
  });
  after(async () => {
    await t?.close();
  });

  const sum = (values: Array<number | undefined>) => values.reduce<number>((n, v) => n + (v ?? 0), 0);

  async function transitUnits(activityId: string, shards: number): Promise<number> {
    const { redis, keys } = t.app.infra;
    let units = 0;
    for (const k of allShardKeys(keys, activityId, shards)) units += (await listTransit(redis, k)).reduce((n, x) => n + x.units, 0);
    return units;
  }

  test('preheat spreads the stock over the shards; take + give + clear never creates a unit', async () => {
    const { activity } = await t.createSale({ stock: 40, shards: 4 });
    assert.equal(activity.shards, 4);
    const { redis, keys } = t.app.infra;
    assert.deepEqual(await shardRemaining(redis, keys, activity.id, 4), [10, 10, 10, 10]);
    const [s0, s1, s2, s3] = allShardKeys(keys, activity.id, 4) as [never, never, never, never];

    const take = await stealTake(redis, s1, { transferId: 'x1', want: 1, nowMs: Date.now(), toShard: 0 });
    assert.deepEqual(take, { taken: 5, pending: 0 }, 'half of the donor');
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)) + (await transitUnits(activity.id, 4)), 40);
    const give = await stealGive(redis, s0, { transferId: 'x1', units: 5, segments: 2 });
    assert.deepEqual(give, { outcome: 'given', remaining: 15 });
    assert.equal((await stealGive(redis, s0, { transferId: 'x1', units: 5, segments: 2 })).outcome, 'already', 'a retried give adds nothing');
    await clearTransit(redis, s1, 'x1');
    assert.deepEqual(await shardRemaining(redis, keys, activity.id, 4), [15, 5, 10, 10]);

    // Many concurrent steals in every direction: the total never moves.
    const shardList = [s0, s1, s2, s3];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const from = i % 4;
        const to = (i + 1 + (i % 3)) % 4;
        const id = `m${i}`;
        const { taken } = await stealTake(redis, shardList[from]!, { transferId: id, want: 1, nowMs: Date.now(), toShard: to });
        if (taken > 0) await stealGive(redis, shardList[to]!, { transferId: id, units: taken, segments: 2 });
        await clearTransit(redis, shardList[from]!, id);
      }),
    );
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)), 40);
    assert.equal(await transitUnits(activity.id, 4), 0);
    // The segments inside each shard agree with its counter.
    for (const k of shardList as Array<{ segmentPrefix: string; remaining: string }>) {
      const segs = await redis.mget(`${k.segmentPrefix}0`, `${k.segmentPrefix}1`);
      assert.equal(sum(segs.map((v) => Number(v ?? 0))), Number(await redis.get(k.remaining)));
    }
  });

  test('a crash between take and give strands units: completed once by reconciliation', async () => {
    const { activity } = await t.createSale({ stock: 40, shards: 4 });
    const { redis, keys, db, log } = t.app.infra;
    const s = allShardKeys(keys, activity.id, 4);
    // The thief took 5 units from shard 2 for shard 3, then died.
    assert.equal((await stealTake(redis, s[2]!, { transferId: 'crash-1', want: 1, nowMs: Date.now() - 60_000, toShard: 3 })).taken, 5);
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)), 35);

    const reconciler = createReconciler({ ...t.app.services, db, redis, keys, log, transitAfterMs: 1000 });
    const report = await reconciler.reconcile(activity);
    assert.deepEqual(report.transfers, ['crash-1']);
    assert.equal(await transitUnits(activity.id, 4), 0);
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)), 40, 'every unit on sale again, none created');

    // The dead thief's late give finds the transfer done.
    assert.equal((await stealGive(redis, s[3]!, { transferId: 'crash-1', units: 5, segments: 2 })).outcome, 'already');
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)), 40);
    const again = await reconciler.reconcile(activity);
    assert.deepEqual(again.transfers, []);
    assert.equal(again.after.remaining, 40);
  });

  test('a load stops steals, lets one under way finish, voids a stranded one, and counts every unit once', async () => {
    const { activity } = await t.createSale({ stock: 40, shards: 4 });
    const { redis, keys } = t.app.infra;
    const s = allShardKeys(keys, activity.id, 4);
    const total = async () => sum(await shardRemaining(redis, keys, activity.id, 4));
    // A thief that died a minute ago, and one whose give is a few milliseconds away.
    assert.equal((await stealTake(redis, s[2]!, { transferId: 'dead', want: 1, nowMs: Date.now() - 60_000, toShard: 3 })).taken, 5);
    assert.equal((await stealTake(redis, s[1]!, { transferId: 'live', want: 1, nowMs: Date.now(), toShard: 0 })).taken, 5);
    const preheat = t.admin('POST', `/api/v1/admin/activities/${activity.id}/preheat`);
    await waitFor(async () => ((await redis.exists(s[0]!.loading)) === 1 ? true : undefined), 5000, 'the load to fence the shards');
    assert.deepEqual(await stealTake(redis, s[3]!, { transferId: 'fenced', want: 1, nowMs: Date.now(), toShard: 0 }), { taken: -6, pending: 0 });
    // The live thief's give lands while the load waits for it: counted once, on its receiver.
    assert.equal((await stealGive(redis, s[0]!, { transferId: 'live', units: 5, segments: 2 })).outcome, 'given');
    await clearTransit(redis, s[1]!, 'live');
    const answer = await preheat;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.remaining, 40, 'every unit MySQL has, the stranded ones recounted');
    assert.equal(await transitUnits(activity.id, 4), 0);
    // The dead thief's late give adds nothing; the fence is gone and steals go on.
    assert.equal((await stealGive(redis, s[3]!, { transferId: 'dead', units: 5, segments: 2 })).outcome, 'already');
    assert.equal(await total(), 40);
    assert.ok((await stealTake(redis, s[3]!, { transferId: 'after', want: 1, nowMs: Date.now(), toShard: 0 })).taken > 0);
  });

  test('steals racing repeated loads never make Redis offer more or less than MySQL has', async () => {
    const { activity } = await t.createSale({ stock: 400, shards: 4 });
    const { redis, keys } = t.app.infra;
    const s = allShardKeys(keys, activity.id, 4);
    let stop = false;
    let moved = 0;
    const thieves = Array.from({ length: 8 }, async (_, n) => {
      for (let i = 0; !stop; i++) {
        const [from, to] = [(n + i) % 4, (n + i + 1 + (i % 3)) % 4];
        const id = `race-${n}-${i}`;
        const { taken } = await stealTake(redis, s[from]!, { transferId: id, want: 1, nowMs: Date.now(), toShard: to });
        if (taken > 0) {
          moved += taken;
          await stealGive(redis, s[to]!, { transferId: id, units: taken, segments: 2 });
        }
        await clearTransit(redis, s[from]!, id);
      }
    });
    for (let i = 0; i < 20; i++) {
      const loaded = await t.app.services.inventory.loadFromTruth(activity);
      assert.equal(loaded.after, 400, `load ${i}`);
    }
    stop = true;
    await Promise.all(thieves);
    assert.ok(moved > 0, 'the thieves did steal');
    assert.equal(await transitUnits(activity.id, 4), 0);
    assert.equal(sum(await shardRemaining(redis, keys, activity.id, 4)), 400);
  });

  test('a buyer whose home shard is empty steals from another shard; SOLD_OUT only when all are empty', async () => {
    const { activity } = await t.createSale({ stock: 4, shards: 4, limitPerUser: 1 });
    const { redis, keys } = t.app.infra;
    assert.deepEqual(await shardRemaining(redis, keys, activity.id, 4), [1, 1, 1, 1]);
    // Four buyers of the same home shard: three of them must steal.
    const sameHome: string[] = [];
    for (let i = 0; sameHome.length < 5; i++) if (homeShard(`h${i}`, 4) === 0) sameHome.push(`h${i}`);
    for (const user of sameHome.slice(0, 4)) {
      const reply = await t.buy(user, activity.id, 'r1');
      assert.equal(reply.status, 202, `${user}: ${JSON.stringify(reply.body)}`);
    }
    assert.deepEqual(await shardRemaining(redis, keys, activity.id, 4), [0, 0, 0, 0]);
    assert.equal(await transitUnits(activity.id, 4), 0);
    const late = await t.buy(sameHome[4]!, activity.id, 'r1');
    assert.equal(late.body.error?.code, 'SOLD_OUT');
    assert.equal((await t.buy(sameHome[4]!, activity.id, 'r1')).body.error?.code, 'SOLD_OUT', 'replay');
    await waitFor(
      async () => {
        const stats = await t.stats(activity.id);
        return stats.orders.PENDING_PAYMENT === 4 && stats.orders.QUEUED === 0 ? stats : undefined;
      },
      30_000,
      'the four orders to persist',
    );
    const stats = await t.stats(activity.id);
    assert.deepEqual(stats.db, { available: 0, locked: 4, sold: 0 });
    assert.equal(stats.redis.remaining, 0);
  });
});

describe('my-order on a sharded activity', () => {
  let t: TestApp;
  before(async () => {
    // API only: no worker persists the order, so it stays QUEUED and only Redis knows it.
    t = await startTestApp({ SECKILL_ROLES: 'api' }, 'shmy');
  });
  after(async () => {
    await t?.close();
  });

  test("a QUEUED order is found through the buyer's home shard", async () => {
    const { activity } = await t.createSale({ stock: 8, shards: 4, limitPerUser: 1 });
    // A buyer whose home shard is not shard 0, where an unsharded lookup would look.
    let user = 'my-0';
    for (let i = 1; homeShard(user, 4) === 0; i++) user = `my-${i}`;
    const bought = await t.buy(user, activity.id, 'r1');
    assert.equal(bought.status, 202, JSON.stringify(bought.body));
    const mine = await t.user(user, 'GET', `/api/v1/activities/${activity.id}/my-order`);
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.order.orderId, bought.body.orderId);
    assert.equal(mine.body.order.status, 'QUEUED');
  });
});
