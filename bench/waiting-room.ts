/**
 * The waiting room's cost: Redis memory per waiting person at 1,000,000 tickets, and how fast one
 * API process answers a join and a poll against the cheapest purchase answer (SOLD_OUT from the
 * local flag), the bare Fastify route and the driver's ceiling, measured in the same run.
 *
 * Starts its own redis-server (so the memory figure is the queue's alone) and service (API role,
 * one process pinned to CPU 1, wrk on CPU 0), with its own database and topic prefix, all removed
 * afterwards. Without the worker role no admission leader runs: the line only grows, which is what
 * a crowd waiting before the start looks like.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import { dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, startService } from '../src/demo/service.ts';
import { createKeys } from '../src/redis/keys.ts';
import { defineScripts } from '../src/redis/scripts.ts';
import { queueJoin, queueView } from '../src/redis/waiting-room.ts';
import { placeFor } from '../src/waiting-room/waiting-room.ts';
import { type Figure, flags, fromLoad, load, medianOf, openSale, print, startBare, startTrivial, writeTokens, startOwnRedis } from './lib.ts';

const USAGE = `usage: node_modules/.bin/node bench/waiting-room.ts [--smoke] [--runs N] [--duration SECONDS] [--connections N]

Redis bytes per waiting person at 1,000,000 tickets (10,000 with --smoke), then join, poll and
SOLD_OUT purchase at saturation with wrk beside a bare Fastify route and a trivial node:http server.`;
const f = flags('bench/waiting-room', USAGE);
const TICKETS = f.smoke ? 10_000 : 1_000_000;

const ownRedis = await startOwnRedis('redis-bench-wr');
const redisUrl = ownRedis.url;
const redis = new Redis(redisUrl);
defineScripts(redis);

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);

/** Joins TICKETS people to one activity's line (random pre-queue places, like a crowd before the start), then polls each once. */
async function bytesPerTicket(): Promise<{ bytes: number; seconds: number }> {
  const keys = createKeys('wrmem');
  const startAtMs = Date.now() + 3_600_000;
  const before = await usedMemory();
  const started = performance.now();
  const BATCH = 5000;
  for (let i = 0; i < TICKETS; i += BATCH) {
    const now = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(BATCH, TICKETS - i) }, (_, j) =>
        queueJoin(redis, keys, { activityId: '1', userId: `user-${i + j}`, shards: 1 }, placeFor('random', startAtMs, now), now),
      ),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  // A poll rewrites the heartbeat in place: the size must not grow with polls.
  await Promise.all(Array.from({ length: Math.min(BATCH, TICKETS) }, (_, j) => queueView(redis, keys, { activityId: '1', userId: `user-${j}`, shards: 1 }, Date.now(), true)));
  const bytes = (await usedMemory()) - before;
  await redis.flushall();
  return { bytes: bytes / TICKETS, seconds };
}

const service = await demoEnv({
  paymentTimeoutSeconds: 300,
  extra: { SECKILL_REDIS_URL: redisUrl, SECKILL_RATE_USER_PER_SEC: '0', SECKILL_LOG_LEVEL: 'error', SECKILL_PAYMENT_SIMULATOR: '0', SECKILL_ROLES: 'api' },
});

try {
  const memory = await bytesPerTicket();
  process.stdout.write(
    `\n## Redis memory per waiting person\n${TICKETS.toLocaleString()} tickets joined in ${memory.seconds.toFixed(1)} s ` +
      `(${Math.round(TICKETS / memory.seconds).toLocaleString()} joins/s through the script, pipelined): ${Math.round(memory.bytes)} bytes per person ` +
      `→ ${((memory.bytes * 1_000_000) / 2 ** 20).toFixed(0)} MiB per million\n`,
  );

  const logFile = join(tmpdir(), `seckill-bench-wr-${process.pid}.log`);
  const running = await startService(service, logFile, 60_000, { cpu: 1 });
  const http = createHttpClient(service.url, 32);
  const figures: Figure[] = [];
  try {
    const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
    const tokens = (label: string, n: number) => Array.from({ length: n }, (_, i) => sign({ sub: `${label}${i}` }));
    const roomId = await openSale(http, service.adminToken, { stock: 1000, waitingRoom: { mode: 'fifo', keepSeconds: 3600 } });
    const soldOutId = await openSale(http, service.adminToken, { stock: 1, limitPerUser: 1 });
    const waiting = tokens('w', 5000);
    for (let i = 0; i < waiting.length; i += 64) {
      await Promise.all(waiting.slice(i, i + 64).map((token) => http.call('POST', `/api/v1/activities/${roomId}/queue`, { token })));
    }
    const buyers = tokens('s', 5000);
    await http.call('POST', `/api/v1/activities/${soldOutId}/purchase`, { token: buyers[0], body: { requestId: 'first' } });
    const waitingFile = writeTokens(waiting);
    const queueUrl = `${service.url}/api/v1/activities/${roomId}/queue`;

    figures.push(await medianOf('poll (GET …/queue)', f.runs, async () => fromLoad(await load({ url: queueUrl, method: 'GET', path: '', tokensFile: waitingFile }, f), '200')));
    figures.push(await medianOf('join again (POST …/queue, same ticket)', f.runs, async () => fromLoad(await load({ url: queueUrl, method: 'POST', path: '', tokensFile: waitingFile }, f), '201')));
    const fresh = tokens('j', 200_000);
    figures.push(
      await medianOf('join (POST …/queue, new people)', f.runs, async () =>
        fromLoad(await load({ url: queueUrl, method: 'POST', path: '', tokensFile: writeTokens(fresh.splice(0, 50_000)) }, f), '201'),
      ),
    );
    figures.push(
      await medianOf('purchase SOLD_OUT (local flag)', f.runs, async () =>
        fromLoad(await load({ url: `${service.url}/api/v1/activities/${soldOutId}/purchase`, method: 'POST', path: '', tokensFile: writeTokens(buyers) }, f), '409'),
      ),
    );
    for (const [name, start] of [
      ['baseline: bare Fastify route', startBare],
      ['ceiling: trivial node:http server', startTrivial],
    ] as const) {
      const server = await start();
      try {
        figures.push(await medianOf(name, f.runs, async () => fromLoad(await load({ url: `${server.url}/api/v1/activities/1/purchase`, method: 'POST', path: '', tokensFile: writeTokens(buyers) }, f), name.includes('Fastify') ? '202' : '409')));
      } finally {
        server.stop();
      }
    }
    print('Waiting room: join and poll against the sold-out purchase (one API process)', figures, [
      ['poll / purchase SOLD_OUT', 'poll (GET …/queue)', 'purchase SOLD_OUT (local flag)'],
      ['join (new) / purchase SOLD_OUT', 'join (POST …/queue, new people)', 'purchase SOLD_OUT (local flag)'],
      ['join again / purchase SOLD_OUT', 'join again (POST …/queue, same ticket)', 'purchase SOLD_OUT (local flag)'],
      ['poll / bare Fastify', 'poll (GET …/queue)', 'baseline: bare Fastify route'],
    ]);
  } finally {
    http.close();
    await running.stop();
  }
} finally {
  redis.disconnect();
  await dropServiceData(service);
  ownRedis.stop();
}
