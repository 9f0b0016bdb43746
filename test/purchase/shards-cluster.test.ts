/**
 * On the cluster topology (`npm run services -- --topology cluster`, masters on 7001-7003): one
 * activity's reservations land on more than one master, seen in each node's INFO commandstats;
 * and a cluster that comes back empty (a restart without persistence) is rebuilt from MySQL, the
 * buyers' counts and answers of every shard included. Skipped, with the reason printed, when that
 * cluster is not up.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { deleteRedisPrefix } from '../support/env.ts';
import { startTestApp, waitFor } from '../support/http.ts';

const CLUSTER_NODES = (process.env.SECKILL_TEST_CLUSTER_NODES ?? 'redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003').split(',');

/** The master nodes' addresses, or the reason the cluster cannot be used. */
async function clusterMasters(): Promise<{ masters: Array<{ host: string; port: number }> } | { reason: string }> {
  const first = new URL(CLUSTER_NODES[0]!);
  const probe = new Redis({ host: first.hostname, port: Number(first.port), lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  try {
    await probe.connect();
    const info = await probe.cluster('INFO');
    if (!/cluster_state:ok/.test(String(info))) return { reason: `cluster at ${CLUSTER_NODES[0]} is not ok` };
    const nodes = String(await probe.cluster('NODES'));
    const masters = nodes
      .split('\n')
      .filter((line) => / master /.test(` ${line.split(' ')[2] ?? ''} `) && !line.includes('fail'))
      .map((line) => {
        const [host = '', rest = ''] = (line.split(' ')[1] ?? '').split(':');
        return { host, port: Number(rest.split('@')[0]) };
      });
    return { masters };
  } catch (error) {
    return { reason: `no Redis Cluster at ${CLUSTER_NODES[0]} (${(error as Error).message}); start it with npm run services -- --topology cluster` };
  } finally {
    probe.disconnect();
  }
}

async function evalshaCalls(node: { host: string; port: number }): Promise<number> {
  const client = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1 });
  try {
    const info = await client.info('commandstats');
    return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  } finally {
    client.disconnect();
  }
}

describe('sharded stock on a Redis Cluster', () => {
  test('one activity with 3 shards: its reservations run on more than one master', async (t) => {
    const found = await clusterMasters();
    if ('reason' in found) {
      console.log(`skipped: ${found.reason}`);
      t.skip(found.reason);
      return;
    }
    const app = await startTestApp({ SECKILL_REDIS_URL: CLUSTER_NODES.join(','), SECKILL_RATE_USER_PER_SEC: '0' }, 'shcl');
    try {
      const { activity } = await app.createSale({ stock: 300, shards: 3 });
      assert.equal(activity.shards, 3);
      const before = await Promise.all(found.masters.map(evalshaCalls));
      for (let i = 0; i < 60; i += 10) {
        const replies = await Promise.all(Array.from({ length: 10 }, (_, j) => app.buy(`cu-${i + j}`, activity.id, 'r1')));
        for (const reply of replies) assert.equal(reply.status, 202, JSON.stringify(reply.body));
      }
      const after = await Promise.all(found.masters.map(evalshaCalls));
      const busy = after.filter((calls, i) => calls - (before[i] ?? 0) >= 10);
      assert.ok(busy.length >= 2, `script calls per master: ${after.map((a, i) => a - (before[i] ?? 0)).join(', ')}`);
    } finally {
      await app.close();
    }
  });

  test('the whole cluster emptied: preheat rebuilds every shard, buyers keep their limits and answers', async (t) => {
    const found = await clusterMasters();
    if ('reason' in found) {
      console.log(`skipped: ${found.reason}`);
      t.skip(found.reason);
      return;
    }
    const app = await startTestApp({ SECKILL_REDIS_URL: CLUSTER_NODES.join(','), SECKILL_RATE_USER_PER_SEC: '0' }, 'shwipe');
    try {
      const { activity } = await app.createSale({ stock: 30, shards: 3, limitPerUser: 1 });
      const buyers = Array.from({ length: 12 }, (_, i) => `wb-${i}`);
      const won = new Map<string, string>();
      for (const userId of buyers) {
        const reply = await app.buy(userId, activity.id, 'first');
        assert.equal(reply.status, 202, JSON.stringify(reply.body));
        won.set(userId, reply.body.orderId);
      }
      await waitFor(async () => (await app.stats(activity.id)).orders.PENDING_PAYMENT === buyers.length, 20_000, 'orders persisted');

      // Every master restarted without persistence: the deployment's keys are gone on all of them.
      await deleteRedisPrefix(app.env.config.redis.prefix, CLUSTER_NODES.join(','));

      const preheat = await app.admin('POST', `/api/v1/admin/activities/${activity.id}/preheat`);
      assert.equal(preheat.status, 200, JSON.stringify(preheat.body));
      assert.equal(preheat.body.remaining, 30 - buyers.length);
      for (const userId of buyers) {
        const replay = await app.buy(userId, activity.id, 'first');
        assert.equal(replay.status, 202, `${userId}: ${JSON.stringify(replay.body)}`);
        assert.equal(replay.body.orderId, won.get(userId), 'a replay gets the order id it was given before the wipe');
        const again = await app.buy(userId, activity.id, 'second');
        assert.equal(again.body.error?.code, 'LIMIT_EXCEEDED', `${userId} is still at the limit`);
      }
      assert.equal((await app.buy('newcomer', activity.id, 'first')).status, 202);
    } finally {
      await app.close();
    }
  });
});
