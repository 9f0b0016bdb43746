/**
 * Scale-out of one hot activity: the reservation rate of ONE activity through the whole
 * service (HTTP → Redis → Kafka), in scenarios measured in the same run:
 *   - 1 API process vs 2 (SECKILL_API_PROCESSES), against the default single Redis and Kafka;
 *   - on the cluster topology (`npm run services -- --topology cluster`, when it is up):
 *     the reserve script alone (no HTTP) on 1 vs 3 shards; through the service, the activity's
 *     stock on 1 shard vs 3 shards (hash tags on the 3 masters), 1 vs 2 API processes, Redis WAIT
 *     for one replica after each reservation (off vs on), and the 3-broker Kafka (RF 3) vs one broker.
 * Every request reserves (a stock no run exhausts, 5,000 users, limit 100). The API processes are
 * not pinned: they share the machine's 2 cores with the load generator, Redis and Kafka, so the
 * ratio says how far a second core helps here, not how a bigger machine scales.
 * `node bench/scale-out.ts [--smoke] [--runs N] [--duration S] [--connections C]`
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { clusterEnv, redisClusterNodes, redisClusterSummary } from '../src/cli/services/cluster.ts';
import { deleteRedisPrefix, dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, startService } from '../src/demo/service.ts';
import { closeRedis, createRedis } from '../src/redis/client.ts';
import { createKeys } from '../src/redis/keys.ts';
import { reserve } from '../src/redis/reservations.ts';
import { shardSegments } from '../src/redis/shards.ts';
import { loadShard } from '../src/redis/stock.ts';
import { CEILING, driverCeiling, type Figure, flags, fromLoad, load, medianOf, openSale, print, writeTokens } from './lib.ts';

const f = flags(
  'bench/scale-out',
  `usage: node_modules/.bin/node bench/scale-out.ts [--smoke] [--runs N] [--duration SECONDS] [--connections N]

Scale-out of one hot activity: its reservation rate through the whole service, 1 API process against 2;
and, when the cluster topology is up (npm run services -- --topology cluster), the reserve script on 1
against 3 shards, the service on 1 against 3 shards, Redis WAIT for a replica off against on, and the
3-broker Kafka (replication factor 3) against one broker. Each scenario starts its own service with its
own database and prefixes, dropped afterwards. A benchmark, not a test.`,
);
const figures: Figure[] = [];
const cluster = clusterEnv();
const clusterUp = (await redisClusterSummary(redisClusterNodes())).ok;

async function scenario(name: string, extra: Record<string, string>, shards = 1): Promise<void> {
  const service = await demoEnv({
    paymentTimeoutSeconds: 300,
    extra: { SECKILL_RATE_USER_PER_SEC: '0', SECKILL_LOG_LEVEL: 'error', SECKILL_PAYMENT_SIMULATOR: '0', SECKILL_ROLES: 'api', ...extra },
  });
  const running = await startService(service, join(tmpdir(), `seckill-bench-scale-${process.pid}.log`), 90_000);
  const http = createHttpClient(service.url, 8);
  try {
    const activityId = await openSale(http, service.adminToken, { stock: 10_000_000, limitPerUser: 100, shards });
    const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
    const tokens = writeTokens(Array.from({ length: 5000 }, (_, i) => sign({ sub: `u${i}` })));
    figures.push(
      await medianOf(name, f.runs, async () =>
        fromLoad(await load({ url: service.url, method: 'POST', path: `/api/v1/activities/${activityId}/purchase`, tokensFile: tokens }, f), '202'),
      ),
    );
  } finally {
    http.close();
    await running.stop();
    await dropServiceData(service);
  }
}

/**
 * The gate alone: the reserve script straight through one ioredis Cluster client (256 calls in
 * flight, no HTTP), the activity's stock on `shards` shards, each buyer on their home shard.
 */
async function gateScenario(name: string, shards: number): Promise<void> {
  const redis = createRedis({ nodes: cluster.SECKILL_REDIS_URL.split(','), cluster: true });
  const prefix = `seckill_bench_scale_${process.pid}`;
  const keys = createKeys(prefix);
  const activityId = `gate${shards}`;
  try {
    for (let i = 0; i < shards; i++) await loadShard(redis, keys.shard(activityId, shards, i), shardSegments(4, shards), 100_000_000);
    let u = 0;
    figures.push(
      await medianOf(name, f.runs, async () => {
        const end = Date.now() + f.durationSeconds * 1000;
        const started = Date.now();
        let done = 0;
        while (Date.now() < end) {
          const batch = Array.from({ length: 256 }, () => {
            const i = u++;
            const input = { activityId, userId: `u${i % 5000}`, requestId: `q${i}`, quantity: 1, limitPerUser: 1_000_000, orderId: String(i), nowMs: Date.now(), ttlSeconds: 600 };
            return reserve(redis, keys, { ...input, shards, shardOnly: shards > 1 });
          });
          await Promise.all(batch);
          done += batch.length;
        }
        return { opsPerSec: (done * 1000) / (Date.now() - started) };
      }),
    );
  } finally {
    await closeRedis(redis);
    await deleteRedisPrefix(cluster.SECKILL_REDIS_URL, prefix);
  }
}

await scenario('single Redis: 1 API process', { SECKILL_API_PROCESSES: '1' });
await scenario('single Redis: 2 API processes', { SECKILL_API_PROCESSES: '2' });
const ratios: Array<[string, string, string]> = [['2 / 1 API processes (single Redis)', 'single Redis: 2 API processes', 'single Redis: 1 API process']];
if (clusterUp) {
  await gateScenario('cluster gate: reserve Lua, 1 shard', 1);
  await gateScenario('cluster gate: reserve Lua, 3 shards', 3);
  // Redis Cluster with the single Kafka broker, so the figures are about Redis and the API
  // processes; the last scenario adds the 3-broker Kafka (RF 3, acks from 2 in-sync replicas).
  const redisCluster = { SECKILL_REDIS_URL: cluster.SECKILL_REDIS_URL };
  // --smoke (the test suite's check that the benchmark still runs) keeps one service scenario here.
  if (!f.smoke) await scenario('cluster: 1 shard, 1 API process', { ...redisCluster, SECKILL_API_PROCESSES: '1' });
  if (!f.smoke) await scenario('cluster: 1 shard, 2 API processes', { ...redisCluster, SECKILL_API_PROCESSES: '2' });
  await scenario('cluster: 3 shards, 2 API processes', { ...redisCluster, SECKILL_API_PROCESSES: '2' }, 3);
  if (!f.smoke) await scenario('cluster: 3 shards, 2 processes, WAIT 1', { ...redisCluster, SECKILL_API_PROCESSES: '2', SECKILL_REDIS_WAIT_REPLICAS: '1' }, 3);
  if (!f.smoke) await scenario('cluster: 3 shards, 2 processes, Kafka RF 3', { ...cluster, SECKILL_API_PROCESSES: '2' }, 3);
  ratios.push(
    ['3 / 1 shards (gate alone, no HTTP)', 'cluster gate: reserve Lua, 3 shards', 'cluster gate: reserve Lua, 1 shard'],
    ['2 / 1 API processes (cluster, 1 shard)', 'cluster: 1 shard, 2 API processes', 'cluster: 1 shard, 1 API process'],
    ['3 / 1 shards (cluster, 2 processes)', 'cluster: 3 shards, 2 API processes', 'cluster: 1 shard, 2 API processes'],
    ['WAIT 1 replica / no WAIT (3 shards, 2 processes)', 'cluster: 3 shards, 2 processes, WAIT 1', 'cluster: 3 shards, 2 API processes'],
    ['Kafka RF 3 (3 brokers) / RF 1 (3 shards, 2 processes)', 'cluster: 3 shards, 2 processes, Kafka RF 3', 'cluster: 3 shards, 2 API processes'],
  );
} else {
  process.stdout.write('cluster topology not up: its scenarios are skipped (npm run services -- --topology cluster)\n');
}
figures.push(await driverCeiling(f));
ratios.push(['1 API process / driver ceiling (single Redis)', 'single Redis: 1 API process', CEILING]);
print('One hot activity: reservations through the service as it scales out', figures, ratios, 'load generator pinned to CPU 0 (when taskset exists); API processes, Redis, Kafka and MariaDB unpinned on both cores');
