/**
 * SECKILL_REDIS_WAIT_REPLICAS: Redis replicates asynchronously, so a reservation a master
 * acknowledged can be lost at failover. With the option set, each reservation waits (Redis WAIT,
 * on the node holding the activity) for that many replicas before it is published: on the cluster
 * topology, whose masters each have a replica, the replica acknowledges; on a Redis without
 * replicas the purchase still succeeds after the timeout and the shortfall is counted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterEnv, redisClusterNodes, redisClusterSummary } from '../../src/cli/services/cluster.ts';
import { deleteRedisPrefix } from '../../src/demo/cleanup.ts';
import { startTestApp, waitFor } from '../support/http.ts';

const CLUSTER_REDIS = clusterEnv().SECKILL_REDIS_URL;
const clusterUp = (await redisClusterSummary(redisClusterNodes())).ok;

async function shortCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^seckill_redis_wait_short_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

async function buyOnce(redisUrl: string | undefined): Promise<number> {
  const overrides: Record<string, string> = { SECKILL_REDIS_WAIT_REPLICAS: '1', SECKILL_REDIS_WAIT_TIMEOUT_MS: '200' };
  if (redisUrl) overrides.SECKILL_REDIS_URL = redisUrl;
  const t = await startTestApp(overrides, 'wait');
  try {
    const { activity } = await t.createSale({ stock: 3 });
    const reply = await t.buy('ann', activity.id, 'r1');
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    await waitFor(async () => (await t.stats(activity.id)).orders.PENDING_PAYMENT === 1, 30_000, 'order persisted');
    return await shortCount(t.url);
  } finally {
    if (redisUrl) await deleteRedisPrefix(redisUrl, t.env.config.redis.prefix);
    await t.close();
  }
}

describe('Redis WAIT after each reservation', () => {
  test('a Redis without replicas: the purchase succeeds after the timeout; the shortfall is counted', async () => {
    assert.equal(await buyOnce(undefined), 1);
  });

  test('the cluster topology: the master\'s replica acknowledges every reservation', { skip: clusterUp ? false : 'Redis Cluster not up (npm run services -- --topology cluster)' }, async () => {
    assert.equal(await buyOnce(CLUSTER_REDIS), 0);
  });
});
