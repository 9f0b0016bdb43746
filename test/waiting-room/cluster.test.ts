/**
 * The waiting room on the cluster topology (`npm run services -- --topology cluster`, masters on
 * 7001-7003), each activity's queue split over 3 shards on different masters. Skipped, with the
 * reason printed, when that cluster is not up.
 */
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { waitingRoomSuite } from './suite.ts';

const CLUSTER_NODES = (process.env.SECKILL_TEST_CLUSTER_NODES ?? 'redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003').split(',');

async function clusterUp(): Promise<string | undefined> {
  const first = new URL(CLUSTER_NODES[0] ?? '');
  const probe = new Redis({ host: first.hostname, port: Number(first.port), lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  try {
    await probe.connect();
    return /cluster_state:ok/.test(String(await probe.cluster('INFO'))) ? undefined : `cluster at ${CLUSTER_NODES[0]} is not ok`;
  } catch (error) {
    return `no Redis Cluster at ${CLUSTER_NODES[0]} (${(error as Error).message}); start it with npm run services -- --topology cluster`;
  } finally {
    probe.disconnect();
  }
}

const reason = await clusterUp();
if (reason) {
  console.log(`skipped: ${reason}`);
  test('waiting room on a Redis Cluster', (t) => t.skip(reason));
} else {
  waitingRoomSuite('cluster', { SECKILL_REDIS_URL: CLUSTER_NODES.join(',') }, 3);
}
