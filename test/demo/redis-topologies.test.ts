/**
 * The demo's cleanup and promise checker take SECKILL_REDIS_URL as the service does: one node, or
 * a comma-separated list meaning Redis Cluster (`new Redis(<list>)` threw "Invalid URL").
 * On a cluster SCAN sees one node only, so keys spread over every master must all be found.
 *
 * The cluster cases are skipped, saying why, when `npm run services -- --topology cluster` is not
 * running (npm test starts it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Cluster } from 'ioredis';
import { type Connection, createConnection } from 'mysql2/promise';
import { clusterEnv, redisClusterNodes, redisClusterSummary } from '../../src/cli/services/cluster.ts';
import { migrate } from '../../src/db/migrate.ts';
import { deleteRedisPrefix } from '../../src/demo/cleanup.ts';
import { checkPromises } from '../../src/demo/promises.ts';
import { closeRedis, connectRedis, dataNodes } from '../../src/demo/redis-nodes.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { REDIS_URL, testEnv, uniqueId } from '../support/env.ts';

const CLUSTER_URL = clusterEnv().SECKILL_REDIS_URL;
const clusterSummary = await redisClusterSummary(redisClusterNodes()).catch((error: unknown) => ({ ok: false, line: String(error) }));
const clusterSkip = clusterSummary.ok ? undefined : `Redis Cluster not up (${clusterSummary.line}); start it: npm run services -- --topology cluster`;

const topologies = [
  { name: 'one Redis node', url: REDIS_URL, skip: undefined },
  { name: 'a Redis Cluster (comma-separated nodes)', url: CLUSTER_URL, skip: clusterSkip },
] as const;

/** How many keys under `prefix` each data node holds. */
async function keysPerNode(url: string, prefix: string): Promise<number[]> {
  const redis = await connectRedis(url);
  try {
    const counts: number[] = [];
    for (const node of dataNodes(redis)) {
      let n = 0;
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      counts.push(n);
    }
    return counts;
  } finally {
    await closeRedis(redis);
  }
}

for (const topology of topologies) {
  describe(`demo Redis access on ${topology.name}`, { skip: topology.skip ?? false }, () => {
    test('deleteRedisPrefix removes the prefix on every node and leaves other prefixes alone', async () => {
      const prefix = uniqueId('dclean');
      const neighbour = uniqueId('dkeep');
      const redis = await connectRedis(topology.url);
      try {
        // 300 hash tags: on a cluster they land on every master, in many slots.
        for (let i = 0; i < 300; i++) {
          await redis.set(`${prefix}:{t${i}}:k`, '1');
          await redis.set(`${prefix}:{t${i}}:other`, '1');
        }
        await redis.set(`${neighbour}:{t1}:k`, '1');
        const before = await keysPerNode(topology.url, prefix);
        assert.equal(before.reduce((a, b) => a + b, 0), 600);
        if (redis instanceof Cluster) assert.ok(before.every((n) => n > 0), `keys on every master: ${before.join(', ')}`);

        assert.equal(await deleteRedisPrefix(topology.url, prefix), undefined);

        assert.deepEqual(await keysPerNode(topology.url, prefix), before.map(() => 0));
        assert.equal(await redis.get(`${neighbour}:{t1}:k`), '1');
      } finally {
        await redis.del(`${neighbour}:{t1}:k`);
        await closeRedis(redis);
      }
    });

    describe('checkPromises', () => {
      const env = testEnv({ SECKILL_REDIS_URL: topology.url }, 'dtop');
      let conn: Connection;
      before(async () => {
        await migrate(env.config.mysql.url);
        conn = await createConnection({ uri: env.config.mysql.url });
      });
      after(async () => {
        await conn?.end();
        await env.cleanup();
        await deleteRedisPrefix(topology.url, env.config.redis.prefix);
      });

      /** An activity in MySQL with `stock` units over `shards` Redis shards. */
      async function activity(stock: number, shards: number): Promise<string> {
        const [commodity] = await conn.query("INSERT INTO commodities (name, price_cents) VALUES ('widget', 1000)");
        const [act] = await conn.query(
          `INSERT INTO activities (name, commodity_id, price_cents, start_at, end_at, limit_per_user, payment_timeout_seconds, shards)
           VALUES ('sale', ?, 500, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, 1, 300, ?)`,
          [(commodity as { insertId: number }).insertId, shards],
        );
        const activityId = String((act as { insertId: number }).insertId);
        await conn.query('INSERT INTO activity_stock (activity_id, stock, available, locked, sold) VALUES (?, ?, ?, 0, 0)', [activityId, stock, stock]);
        return activityId;
      }

      const check = (activityId: string) =>
        checkPromises({ mysqlUrl: env.config.mysql.url, redisUrl: topology.url, redisPrefix: env.config.redis.prefix, activityId, accepted: new Map() });

      test('reads the activity from Redis and finds a user counted over the limit there', async () => {
        const activityId = await activity(5, 1);
        const keys = createKeys(env.config.redis.prefix).activity(activityId);
        const redis = await connectRedis(topology.url);
        try {
          await redis.set(keys.remaining, '5');
          for (let i = 0; i < 50; i++) await redis.set(keys.user(`ok${i}`), '1');
          await redis.set(keys.user('greedy'), '3');
        } finally {
          await closeRedis(redis);
        }

        const results = await check(activityId);

        const p1 = results.find((r) => r.id === 1)!;
        assert.equal(p1.numbers['redisRemaining'], 5);
        const p3 = results.find((r) => r.id === 3)!;
        assert.equal(p3.held, false);
        assert.equal(p3.numbers['usersCheckedInRedis'], 51);
        assert.equal(p3.numbers['maxUnitsPerUserRedis'], 3);
        assert.match(p3.violations.join('\n'), /Redis counts 3 units for user greedy > limit 1/);
      });

      test('sums every shard of a sharded activity: units on sale, in flight, and each user', async () => {
        const activityId = await activity(9, 3);
        const names = createKeys(env.config.redis.prefix);
        const shard = (i: number) => names.shard(activityId, 3, i);
        const redis = await connectRedis(topology.url);
        try {
          for (let i = 0; i < 3; i++) {
            await redis.set(shard(i).remaining, String(i + 1)); // 1 + 2 + 3 = 6
            await redis.set(shard(i).user(`home${i}`), '1');
          }
          await redis.hset(shard(2).reservations, 'o1', 'split|1|0|r1');
          // One user counted on two shards: 2 units in all, over the limit of 1.
          await redis.set(shard(0).user('split'), '1');
          await redis.set(shard(2).user('split'), '1');
        } finally {
          await closeRedis(redis);
        }

        const results = await check(activityId);

        const p1 = results.find((r) => r.id === 1)!;
        assert.equal(p1.numbers['redisRemaining'], 6);
        assert.equal(p1.numbers['redisInFlight'], 1);
        const p3 = results.find((r) => r.id === 3)!;
        assert.equal(p3.numbers['redisShards'], 3);
        assert.equal(p3.numbers['usersCheckedInRedis'], 5);
        assert.equal(p3.numbers['maxUnitsPerUserRedis'], 2);
        assert.deepEqual(p3.violations, ['Redis counts 2 units for user split > limit 1']);
      });
    });
  });
}
