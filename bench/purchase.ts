/**
 * The purchase path, answer by answer, against the framework's and the driver's ceilings measured
 * in the same run: what each answer a buyer can get costs (throughput at saturation with wrk,
 * latency, CPU time of the service per request, Redis commands and Kafka produce requests per
 * request) and how close it comes to a bare Fastify route doing nothing, and to the contract's
 * floor (bench/contract-floor.ts: the service's own HTTP pipeline answering SOLD_OUT with no I/O),
 * which separates what the purchase path costs from what every request of docs/api.md costs.
 *
 * The service runs the API role in one process pinned to CPU 1 (wrk on CPU 0), against a
 * redis-server of this benchmark's own, so Redis's command counts are the service's alone.
 * `--profile` also takes a CPU profile of each answer through the inspector (artifacts/profiles/).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import { dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, startService } from '../src/demo/service.ts';
import { createKeys, homeShard } from '../src/redis/keys.ts';
import { defineScripts } from '../src/redis/scripts.ts';
import { reserve } from '../src/redis/reservations.ts';
import { loadShard, load as loadStock } from '../src/redis/stock.ts';
import { type Cost, costPerRequest, counters } from './costs.ts';
import type { DriverResult } from './drivers.ts';
import { type Figure, flags, fromLoad, load, median, openSale, print, startBare, startContractFloor, startTrivial, writeTokens, startOwnRedis } from './lib.ts';
import { inspectorUrl, type Profiler, startProfiler, summarise } from './profile.ts';

const USAGE = `usage: node_modules/.bin/node bench/purchase.ts [--smoke] [--runs N] [--duration SECONDS] [--connections N] [--profile]

Each answer of the purchase path (SOLD_OUT from the local flag, a replay, LIMIT_EXCEEDED, a fresh
reservation, a steal from another shard, BUSY with the Redis circuit open) at saturation with wrk:
req/s, latency, CPU time of the service per request, Redis commands and writes and Kafka produce
requests per request, beside a bare Fastify route, the contract's floor (the service's HTTP pipeline
answering SOLD_OUT with no I/O) and the driver's ceiling (a trivial node:http server) in the same run. Starts its own redis-server and service (API role, one process pinned to
CPU 1), with its own database and topic prefix, all removed afterwards.`;
const f = flags('bench/purchase', USAGE);
const PROFILES = join(process.cwd(), 'artifacts', 'profiles');

const ownRedis = await startOwnRedis('redis-bench');
const redisUrl = ownRedis.url;
const redisPid = ownRedis.pid;

const service = await demoEnv({
  paymentTimeoutSeconds: 300,
  extra: {
    SECKILL_REDIS_URL: redisUrl,
    SECKILL_RATE_USER_PER_SEC: '0',
    SECKILL_LOG_LEVEL: 'error',
    SECKILL_PAYMENT_SIMULATOR: '0',
    // The order worker, relay and event consumers would share the pinned core with the endpoint
    // being measured; in production they are separate processes.
    SECKILL_ROLES: 'api',
    ...(f.profile ? { NODE_OPTIONS: '--inspect=127.0.0.1:0' } : {}),
  },
});
const logFile = join(tmpdir(), `seckill-bench-purchase-${process.pid}.log`);
const running = await startService(service, logFile, 60_000, { cpu: 1 });
const pid = running.child.pid!;
const http = createHttpClient(service.url, 32);
const redis = new Redis(redisUrl);
const figures: Figure[] = [];
const costs = new Map<string, Cost>();
const profileLines: string[] = [];

/**
 * The bare Fastify route, running beside the service through the whole benchmark (idle, pinned to
 * the same core, while the service is measured). Each run of an answer is followed by a run of the
 * bare route, and the ratio is the median of those pairs: on a shared machine the load of other
 * work changes within a minute, and a ratio of figures taken minutes apart measured that change.
 */
const pairedBare = await startBare();
const pairedRatios = new Map<string, number[]>();
let pairedRun: (() => Promise<DriverResult>) | undefined;

/** Runs one answer kind `f.runs` times with wrk (each paired with a bare run); keeps the median figure and the median cost. */
async function measure(
  name: string,
  expect: string,
  run: () => Promise<DriverResult>,
  options: { redisDown?: boolean; baselinePid?: number; pairWithBare?: boolean } = {},
): Promise<void> {
  const results: Array<{ figure: Omit<Figure, 'name'>; cost: Cost }> = [];
  const target = options.baselinePid ?? pid;
  // Paired with the bare route, a smoke run still takes 3 pairs: one pair's ratio is at the mercy
  // of whatever else the machine ran in that second, and the regression guard reads this median.
  const runs = f.smoke && !options.baselinePid ? 3 : f.runs;
  for (let i = 0; i < runs; i++) {
    const reader = options.redisDown || options.baselinePid ? undefined : redis;
    const before = await counters(target, reader, service.url);
    let profiler: Profiler | undefined;
    const url = f.profile && i === 0 && !options.baselinePid ? inspectorUrl(logFile) : undefined;
    if (url) profiler = await startProfiler(url);
    const result = await run();
    if (profiler) profileLines.push(...summarise(await profiler.stop(), PROFILES, name.replace(/\W+/g, '-')));
    const after = await counters(target, reader, service.url);
    results.push({ figure: fromLoad(result, expect), cost: costPerRequest(before, after, result.requests) });
    if (pairedRun && (!options.baselinePid || options.pairWithBare)) {
      const bare = await pairedRun();
      pairedRatios.set(name, [...(pairedRatios.get(name) ?? []), bare.requestsPerSec > 0 ? result.requestsPerSec / bare.requestsPerSec : 0]);
    }
  }
  const mid = results.sort((a, b) => a.figure.opsPerSec - b.figure.opsPerSec)[Math.floor(results.length / 2)]!;
  figures.push({ name, ...mid.figure });
  costs.set(name, { ...mid.cost, cpuUs: median(results.map((r) => r.cost.cpuUs)) });
}

try {
  const activity = (fields: Record<string, unknown>) => openSale(http, service.adminToken, fields);
  const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
  const tokens = (label: string, n: number) => Array.from({ length: n }, (_, i) => sign({ sub: `${label}${i}` }));
  const buyAll = async (activityId: string, list: string[], requestId: (i: number) => string) => {
    for (let i = 0; i < list.length; i += 64) {
      await Promise.all(list.slice(i, i + 64).map((token, j) => http.call('POST', `/api/v1/activities/${activityId}/purchase`, { token, body: { requestId: requestId(i + j) } })));
    }
  };
  const purchase = (activityId: string) => `${service.url}/api/v1/activities/${activityId}/purchase`;
  const wrkOn = (url: string, tokensFile: string, mode: 'fresh' | 'replay') => () =>
    load({ url, method: 'POST', path: '', tokensFile, ...(mode === 'replay' ? { replay: true } : {}) }, f);
  pairedRun = wrkOn(`${pairedBare.url}/api/v1/activities/1/purchase`, writeTokens(tokens('b', 5000)), 'fresh');

  // SOLD_OUT: one unit, bought; then the crowd. Answered from the process's sold-out flag, plus one
  // Redis GET of the request's stored answer (a replay of a winning request still gets its 202).
  const soldOutId = await activity({ stock: 1, limitPerUser: 1 });
  const soldOutTokens = tokens('s', 5000);
  await buyAll(soldOutId, soldOutTokens.slice(0, 1), () => 'first');
  await measure('SOLD_OUT (local flag)', '409', wrkOn(purchase(soldOutId), writeTokens(soldOutTokens), 'fresh'));

  // Replay: each buyer sends again the click that won (requestId "replay-<i>", as the wrk script does).
  const replayId = await activity({ stock: 1_000_000, limitPerUser: 1 });
  const replayTokens = tokens('p', 2000);
  await buyAll(replayId, replayTokens, (i) => `replay-${i}`);
  await measure('replay of a 202', '202', wrkOn(purchase(replayId), writeTokens(replayTokens), 'replay'));

  // LIMIT_EXCEEDED: buyers who hold their one unit try again with new requestIds.
  const limitId = await activity({ stock: 1_000_000, limitPerUser: 1 });
  const limitTokens = tokens('l', 2000);
  await buyAll(limitId, limitTokens, () => 'first');
  await measure('LIMIT_EXCEEDED', '409', wrkOn(purchase(limitId), writeTokens(limitTokens), 'fresh'));

  // A fresh reservation: a stock no run exhausts, 5,000 buyers × limit 100. A few reservations
  // first, not measured: the first publish waits for the producer's connection and the topic's
  // metadata, which in a short run would be most of what the figure measures.
  const reserveId = await activity({ stock: 10_000_000, limitPerUser: 100 });
  const reserveTokens = tokens('r', 5000);
  await buyAll(reserveId, reserveTokens.slice(0, 256), (i) => `warm-${i}`);
  await measure('reservation (202)', '202', wrkOn(purchase(reserveId), writeTokens(reserveTokens), 'fresh'));

  await measureSteal(activity, sign);

  // The ceilings, same driver, same run, pinned like the service.
  // The contract's floor: the service's own HTTP pipeline answering SOLD_OUT with no I/O, with as
  // many distinct buyers' tokens as the SOLD_OUT run (each verified once, then cached).
  for (const [name, start, expect] of [
    ['baseline: bare Fastify route', () => startBare(), '202'],
    ['floor: service HTTP pipeline, SOLD_OUT from memory', () => startContractFloor(service.jwtSecret), '409'],
    ['ceiling: trivial node:http server', () => startTrivial(), '409'],
  ] as const) {
    const server = await start();
    try {
      const floor = name.startsWith('floor');
      await measure(name, expect, wrkOn(`${server.url}/api/v1/activities/1/purchase`, writeTokens(tokens(floor ? 'f' : 'b', 5000)), 'fresh'), { baselinePid: server.pid, pairWithBare: floor });
    } finally {
      server.stop();
    }
  }

  // The reserve script alone through ioredis (Redis's ceiling for the reservation), no HTTP.
  figures.push(await luaCeiling());

  // BUSY: Redis frozen (SIGSTOP); once the circuit is open, purchases are answered at once.
  process.kill(redisPid, 'SIGSTOP');
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const started = Date.now();
      const r = await http.call('POST', `/api/v1/activities/${reserveId}/purchase`, { token: sign({ sub: 'probe' }), body: { requestId: `probe-${started}` } });
      if (r.status === 503 && Date.now() - started < 50) break;
      if (Date.now() > deadline) throw new Error('the Redis circuit did not open within 15 s');
    }
    await measure('BUSY (Redis circuit open)', '503', wrkOn(purchase(reserveId), writeTokens(reserveTokens), 'fresh'), { redisDown: true });
  } finally {
    process.kill(redisPid, 'SIGCONT');
  }

  const paired = (name: string) => median(pairedRatios.get(name) ?? []);
  print('Purchase path, answer by answer (one API process)', figures, [
    ['SOLD_OUT / bare Fastify (target ≥ 0.8)', 'SOLD_OUT (local flag)', 'baseline: bare Fastify route', paired('SOLD_OUT (local flag)')],
    ['replay / bare Fastify (target ≥ 0.6)', 'replay of a 202', 'baseline: bare Fastify route', paired('replay of a 202')],
    ['LIMIT_EXCEEDED / bare Fastify (target ≥ 0.6)', 'LIMIT_EXCEEDED', 'baseline: bare Fastify route', paired('LIMIT_EXCEEDED')],
    ['reservation / bare Fastify (target ≥ 0.5)', 'reservation (202)', 'baseline: bare Fastify route', paired('reservation (202)')],
    ['BUSY / bare Fastify', 'BUSY (Redis circuit open)', 'baseline: bare Fastify route', paired('BUSY (Redis circuit open)')],
    ['bare Fastify / driver ceiling', 'baseline: bare Fastify route', 'ceiling: trivial node:http server'],
    ['contract floor / bare Fastify', 'floor: service HTTP pipeline, SOLD_OUT from memory', 'baseline: bare Fastify route', paired('floor: service HTTP pipeline, SOLD_OUT from memory')],
    ['SOLD_OUT / contract floor', 'SOLD_OUT (local flag)', 'floor: service HTTP pipeline, SOLD_OUT from memory'],
    ['reservation / reserve Lua via ioredis', 'reservation (202)', 'baseline: reserve Lua via ioredis (pipelined)'],
  ]);
  process.stdout.write('\nper request (median run)            CPU µs  Redis writes  Redis cmds  Kafka produces  Redis commands (script-internal included)\n');
  for (const [name, c] of costs) {
    process.stdout.write(
      `${name.padEnd(36)} ${c.cpuUs.toFixed(0).padStart(6)}  ${c.redisWrites.toFixed(2).padStart(12)}  ${c.redisCommands.toFixed(2).padStart(10)}  ${c.kafkaProduces.toFixed(3).padStart(14)}  ${c.redisBreakdown}\n`,
    );
  }
  if (profileLines.length > 0) process.stdout.write(`\n${profileLines.join('\n')}\n`);
} finally {
  pairedBare.stop();
  http.close();
  redis.disconnect();
  await running.stop();
  await dropServiceData(service);
  ownRedis.stop();
}

/**
 * A steal: the buyer's home shard is empty and another shard has units. Steals move half a donor's
 * units at a time, so a crowd steals rarely; to measure one, each request here is made to steal:
 * before it, the home shard is emptied and the donor given 2 units (the benchmark's own load
 * scripts, subtracted from the Redis counts). Sequential requests, so latency is one steal's.
 */
async function measureSteal(activity: (fields: Record<string, unknown>) => Promise<string>, sign: (payload: Record<string, unknown>) => string): Promise<void> {
  const shards = 2;
  const stealId = await activity({ stock: 1_000_000, limitPerUser: 1, shards });
  defineScripts(redis);
  const keys = createKeys(service.redisPrefix);
  const users: string[] = [];
  for (let i = 0; users.length < (f.smoke ? 50 : 500); i++) if (homeShard(`st${i}`, shards) === 1) users.push(`st${i}`);
  const [donor, home] = [keys.shard(stealId, shards, 0), keys.shard(stealId, shards, 1)];
  const latencies: number[] = [];
  let stolen = 0;
  const before = await counters(pid, redis, service.url);
  for (const user of users) {
    await loadShard(redis, home, 1, 0);
    await loadShard(redis, donor, 1, 2);
    const token = sign({ sub: user });
    const started = performance.now();
    const r = await http.call('POST', `/api/v1/activities/${stealId}/purchase`, { token, body: { requestId: 'steal' } });
    latencies.push(performance.now() - started);
    if (r.status === 202) stolen++;
  }
  const after = await counters(pid, redis, service.url);
  const cost = costPerRequest(before, after, users.length, { evalsha: 2 * users.length });
  costs.set('steal from another shard (202)', cost);
  figures.push({
    name: 'steal from another shard (202)',
    opsPerSec: Math.round(1e6 / Math.max(1, cost.cpuUs)),
    p50Ms: Math.round(median(latencies) * 10) / 10,
    p99Ms: Math.round([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)]! * 10) / 10,
    note: `${stolen}/${users.length} 202; sequential, one steal per request; ops/s = 1 / CPU time (no concurrency)`,
  });
}

/** The reserve script straight through ioredis, 256 calls in flight, for f.durationSeconds. */
async function luaCeiling(): Promise<Figure> {
  defineScripts(redis);
  const keys = createKeys(`${service.redisPrefix}_lua`);
  await loadStock(redis, keys, 'x', 4, 100_000_000);
  const rates: number[] = [];
  let u = 0;
  for (let run = 0; run < f.runs; run++) {
    const end = Date.now() + f.durationSeconds * 1000;
    const started = Date.now();
    let done = 0;
    while (Date.now() < end) {
      const batch = Array.from({ length: 256 }, () => {
        const i = u++;
        return reserve(redis, keys, { activityId: 'x', userId: `u${i % 5000}`, requestId: `q${i}`, quantity: 1, limitPerUser: 1_000_000, orderId: String(i), nowMs: Date.now(), ttlSeconds: 600 });
      });
      await Promise.all(batch);
      done += batch.length;
    }
    rates.push((done * 1000) / (Date.now() - started));
  }
  return { name: 'baseline: reserve Lua via ioredis (pipelined)', opsPerSec: Math.round(median(rates)), note: 'no HTTP; the bench process, unpinned' };
}
