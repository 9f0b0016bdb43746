/**
 * The crowd: 2,000 users, 3 concurrent requests each (an original, its replay with the
 * same requestId, and a different requestId), 200 units over 8 segments, over real HTTP. No
 * oversell, no undersell, idempotent replays, per-user limit, every winner persisted once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clusterEnv, redisClusterNodes, redisClusterSummary } from '../../src/cli/services/cluster.ts';
import { type Json, pool, type Reply, startTestApp, type TestApp, waitFor } from '../support/http.ts';

const USERS = 2000;
const STOCK = 200;
const IN_FLIGHT = 200;

interface Attempt {
  userId: string;
  requestId: string;
  quantity: number;
  reply: Reply<Json>;
}

/** One purchase, retried with the same requestId on 503 BUSY (what a well-behaved client does). */
async function buy(t: TestApp, activityId: string, userId: string, requestId: string, quantity: number): Promise<Attempt> {
  for (let attempt = 0; ; attempt++) {
    const reply = await t.buy(userId, activityId, requestId, quantity);
    if (reply.status !== 503 || attempt >= 20) return { userId, requestId, quantity, reply };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function crowd(t: TestApp, activityId: string, quantityOf: (user: number, which: 'a' | 'b') => number) {
  const tasks = Array.from({ length: USERS }, (_, i) => async () => {
    const userId = `user-${i}`;
    const qa = quantityOf(i, 'a');
    const qb = quantityOf(i, 'b');
    return Promise.all([
      buy(t, activityId, userId, `req-a-${i}`, qa),
      buy(t, activityId, userId, `req-a-${i}`, qa),
      buy(t, activityId, userId, `req-b-${i}`, qb),
    ]);
  });
  // Bounded: each task holds 3 requests, so about IN_FLIGHT requests are in flight at once.
  return pool(tasks, Math.ceil(IN_FLIGHT / 3));
}

async function checkOutcome(t: TestApp, activityId: string, results: Attempt[][], limitPerUser: number) {
  const all = results.flat();
  for (const a of all) {
    assert.ok([202, 409].includes(a.reply.status), `unexpected ${a.reply.status} ${JSON.stringify(a.reply.body)}`);
    if (a.reply.status === 409) assert.ok(['SOLD_OUT', 'LIMIT_EXCEEDED'].includes(a.reply.body.error.code), JSON.stringify(a.reply.body));
    else assert.equal(a.reply.body.status, 'QUEUED');
  }
  // Every replay got exactly its original's answer.
  for (const [original, replay] of results) {
    assert.ok(original && replay);
    assert.equal(replay.reply.status, original.reply.status, `replay of ${original.userId}`);
    assert.deepEqual(replay.reply.body, original.reply.body, `replay of ${original.userId}`);
  }
  // Distinct winning orders (the replay shares its original's id).
  const winners = new Map<string, Attempt>();
  for (const [original, , other] of results) {
    for (const a of [original, other]) {
      if (a && a.reply.status === 202) {
        assert.ok(!winners.has(a.reply.body.orderId), 'two requests got the same order id');
        winners.set(a.reply.body.orderId, a);
      }
    }
  }
  const units = [...winners.values()].reduce((n, a) => n + a.quantity, 0);
  assert.equal(units, STOCK, 'every unit sold, none twice');
  const perUser = new Map<string, number>();
  for (const a of winners.values()) perUser.set(a.userId, (perUser.get(a.userId) ?? 0) + a.quantity);
  for (const [user, held] of perUser) assert.ok(held <= limitPerUser, `${user} holds ${held}`);

  // The queue drains: every winner is a PENDING_PAYMENT row, exactly once.
  await waitFor(
    async () => {
      const s = await t.stats(activityId);
      return s.orders.QUEUED === 0 && s.orders.PENDING_PAYMENT === winners.size ? s : undefined;
    },
    45_000,
    'the order queue to drain',
  );
  const rows = await t.app.infra.db
    .selectFrom('orders')
    .select(['id', 'user_id', 'quantity', 'status'])
    .where('activity_id', '=', activityId)
    .execute();
  assert.equal(rows.length, winners.size, 'one row per 202 order');
  for (const row of rows) {
    const won = winners.get(String(row.id));
    assert.ok(won, `row ${row.id} was never answered 202`);
    assert.equal(row.status, 'PENDING_PAYMENT');
    assert.equal(row.user_id, won.userId);
    assert.equal(row.quantity, won.quantity);
  }
  const quota = await t.app.infra.db.selectFrom('user_quota').select(['user_id', 'quantity']).where('activity_id', '=', activityId).execute();
  for (const q of quota) {
    assert.ok(q.quantity <= limitPerUser);
    assert.equal(q.quantity, perUser.get(q.user_id) ?? 0, `quota of ${q.user_id}`);
  }
  // A few winners through the API, as their owners see them.
  for (const [orderId, a] of [...winners].slice(0, 20)) {
    const got = await t.user(a.userId, 'GET', `/api/v1/orders/${orderId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.order.status, 'PENDING_PAYMENT');
    assert.equal(got.body.order.quantity, a.quantity);
  }

  const s = await t.stats(activityId);
  assert.equal(s.stock, STOCK);
  assert.deepEqual(s.db, { available: 0, locked: STOCK, sold: 0 });
  assert.equal(s.db.available + s.db.locked + s.db.sold, s.stock);
  assert.equal(s.orders.PENDING_PAYMENT, winners.size);
  assert.equal(s.orders.FAILED, 0);
  assert.equal(s.orders.QUEUED, 0);
  assert.equal(s.redis.remaining, 0);
  return winners;
}

/**
 * The same crowd on both topologies: the default single Redis and broker, and the
 * cluster one (`npm run services -- --topology cluster`, which `npm test` starts) where each
 * shard's keys live on their own master and orders spread over a 3-broker Kafka with RF 3.
 */
const clusterUp = await redisClusterSummary(redisClusterNodes());
const TOPOLOGIES = [
  { name: 'single Redis and Kafka', env: {} as Record<string, string>, skip: false as string | false },
  {
    name: 'Redis Cluster and 3 Kafka brokers',
    env: clusterEnv() as Record<string, string>,
    skip: clusterUp.ok ? (false as const) : `the cluster topology is not up (${clusterUp.line}): npm run services -- --topology cluster`,
  },
];

for (const topology of TOPOLOGIES) describe(`2,000 users x 3 concurrent requests for 200 units over 8 segments (${topology.name})`, { skip: topology.skip }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_MAX_INFLIGHT: '100000', ...topology.env }, 'conc');
  });
  after(async () => {
    await t?.close();
  });

  test('limitPerUser 1: exactly 200 orders, replays identical, one unit per user', async () => {
    const { activity } = await t.createSale({ stock: STOCK, segments: 8, limitPerUser: 1 });
    assert.equal(activity.segments, 8);
    const results = await crowd(t, activity.id, () => 1);
    const winners = await checkOutcome(t, activity.id, results, 1);
    assert.equal(winners.size, STOCK);
    const users = new Set([...winners.values()].map((a) => a.userId));
    assert.equal(users.size, STOCK, 'no user holds two units');
  });

  test('limitPerUser 3, quantities 1-3: exactly 200 units sold, no user above 3', async () => {
    const { activity } = await t.createSale({ stock: STOCK, segments: 8, limitPerUser: 3 });
    const q = new Map<string, number>();
    const results = await crowd(t, activity.id, (user, which) => {
      const key = `${user}${which}`;
      if (!q.has(key)) q.set(key, 1 + Math.floor(Math.random() * 3));
      return q.get(key) as number;
    });
    await checkOutcome(t, activity.id, results, 3);
  });

  test('shards 4: 200 units over 4 shards, every unit sold, none twice, replays identical, one per user', async () => {
    const { activity } = await t.createSale({ stock: STOCK, segments: 8, shards: 4, limitPerUser: 1 });
    assert.equal(activity.shards, 4);
    const results = await crowd(t, activity.id, () => 1);
    const winners = await checkOutcome(t, activity.id, results, 1);
    assert.equal(winners.size, STOCK);
    assert.equal(new Set([...winners.values()].map((a) => a.userId)).size, STOCK, 'no user holds two units');
    // Every shard sold (each buyer reserves on its home shard), and nothing is left in transit.
    const { redis, keys } = t.app.infra;
    for (let i = 0; i < 4; i++) {
      const k = keys.shard(activity.id, 4, i);
      assert.equal(await redis.get(k.remaining), '0', `shard ${i} sold out`);
      assert.equal(await redis.hlen(k.transit), 0, `shard ${i} has nothing in transit`);
    }
  });

  test('shards 4, limitPerUser 3, quantities 1-3: exactly 200 units sold, no user above 3', async () => {
    const { activity } = await t.createSale({ stock: STOCK, segments: 8, shards: 4, limitPerUser: 3 });
    const q = new Map<string, number>();
    const results = await crowd(t, activity.id, (user, which) => {
      const key = `${user}${which}`;
      if (!q.has(key)) q.set(key, 1 + Math.floor(Math.random() * 3));
      return q.get(key) as number;
    });
    await checkOutcome(t, activity.id, results, 3);
  });

  test('a SOLD_OUT for more units than are left does not stop single-unit buyers', async () => {
    const { activity } = await t.createSale({ stock: 3, limitPerUser: 3 });
    assert.equal((await t.buy('big-1', activity.id, 'r1', 2)).status, 202);
    const big = await t.buy('big-2', activity.id, 'r1', 3);
    assert.equal(big.status, 409);
    assert.equal(big.body.error.code, 'SOLD_OUT');
    // Its replay is still SOLD_OUT, and neither must mark the activity sold out: one unit is left.
    assert.equal((await t.buy('big-2', activity.id, 'r1', 3)).body.error.code, 'SOLD_OUT');
    const small = await t.buy('small', activity.id, 'r1', 1);
    assert.equal(small.status, 202, JSON.stringify(small.body));
    const late = await t.buy('late', activity.id, 'r1', 1);
    assert.equal(late.body.error.code, 'SOLD_OUT');
  });
});
