/**
 * Purchase endpoint, phases reserving / sold out / limit exceeded, against three baselines measured
 * in the same run: a bare Fastify route (the framework's ceiling), the reserve Lua script through
 * ioredis with pipelining (Redis's ceiling), and the naive MySQL design (SELECT … FOR UPDATE +
 * UPDATE per purchase). `node bench/purchase.ts [--smoke] [--runs N] [--duration S] [--connections C]`
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import { createConnection, createPool } from 'mysql2/promise';
import { deleteRedisPrefix, dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, startService } from '../src/demo/service.ts';
import { createKeys } from '../src/redis/keys.ts';
import { defineScripts } from '../src/redis/scripts.ts';
import { load as loadStock, reserve } from '../src/redis/stock.ts';
import { type Figure, flags, fromLoad, load, medianOf, openSale, print, startBare, writeTokens } from './lib.ts';

const f = flags();
const service = await demoEnv({ paymentTimeoutSeconds: 300, extra: { SECKILL_RATE_USER_PER_SEC: '0', SECKILL_LOG_LEVEL: 'error', SECKILL_PAYMENT_SIMULATOR: '0', SECKILL_ROLES: 'api' } });
const running = await startService(service, join(tmpdir(), `seckill-bench-purchase-${process.pid}.log`), 60_000, { cpu: 1 });
const http = createHttpClient(service.url, 32);
const figures: Figure[] = [];
const redis = new Redis(service.redisUrl);
try {
  const activity = (stock: number, limitPerUser: number) => openSale(http, service.adminToken, { stock, limitPerUser });
  const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
  const tokens = (label: string, n: number) => Array.from({ length: n }, (_, i) => sign({ sub: `${label}${i}` }));

  // Reserving: a stock no run can exhaust; 5,000 users × limit 100 → every request reserves.
  const reservingId = await activity(10_000_000, 100);
  const reservingTokens = writeTokens(tokens('r', 5000));
  figures.push(
    await medianOf('purchase: reserving (202)', f.runs, async () =>
      fromLoad(await load({ url: service.url, method: 'POST', path: `/api/v1/activities/${reservingId}/purchase`, tokensFile: reservingTokens }, f), '202'),
    ),
  );

  // Sold out: one unit, bought, then the crowd.
  const soldOutId = await activity(1, 1);
  const soldOutTokens = tokens('s', 5000);
  await http.call('POST', `/api/v1/activities/${soldOutId}/purchase`, { token: soldOutTokens[0], body: { requestId: 'first' } });
  const soldOutFile = writeTokens(soldOutTokens);
  figures.push(
    await medianOf('purchase: sold out (409)', f.runs, async () =>
      fromLoad(await load({ url: service.url, method: 'POST', path: `/api/v1/activities/${soldOutId}/purchase`, tokensFile: soldOutFile }, f), '409'),
    ),
  );

  // Limit exceeded: 500 users who already hold their one unit ask again with new requestIds.
  const limitId = await activity(10_000_000, 1);
  const limitTokens = tokens('l', 500);
  await Promise.all(limitTokens.map((t, i) => http.call('POST', `/api/v1/activities/${limitId}/purchase`, { token: t, body: { requestId: `first${i}` } })));
  const limitFile = writeTokens(limitTokens);
  figures.push(
    await medianOf('purchase: limit exceeded (409)', f.runs, async () =>
      fromLoad(await load({ url: service.url, method: 'POST', path: `/api/v1/activities/${limitId}/purchase`, tokensFile: limitFile }, f), '409'),
    ),
  );

  // Baseline 1: bare Fastify, same route shape, same load.
  const bare = await startBare();
  try {
    figures.push(
      await medianOf('baseline: bare Fastify route', f.runs, async () =>
        fromLoad(await load({ url: bare.url, method: 'POST', path: '/api/v1/activities/1/purchase', tokensFile: reservingTokens }, f), '202'),
      ),
    );
  } finally {
    bare.stop();
  }

  // Baseline 2: the reserve script straight through ioredis, 256 calls in flight (pipelined).
  defineScripts(redis);
  const keys = createKeys(`${service.redisPrefix}_lua`);
  await loadStock(redis, keys, 'x', 4, 100_000_000);
  let u = 0;
  figures.push(
    await medianOf('baseline: reserve Lua via ioredis (pipelined)', f.runs, async () => {
      const end = Date.now() + f.durationSeconds * 1000;
      const started = Date.now();
      let done = 0;
      while (Date.now() < end) {
        const batch = Array.from({ length: 256 }, () => {
          const i = u++;
          return reserve(redis, keys, {
            activityId: 'x',
            userId: `u${i % 5000}`,
            requestId: `q${i}`,
            quantity: 1,
            limitPerUser: 1_000_000,
            orderId: String(i),
            nowMs: Date.now(),
            ttlSeconds: 600,
          });
        });
        await Promise.all(batch);
        done += batch.length;
      }
      return { opsPerSec: (done * 1000) / (Date.now() - started) };
    }),
  );

  // Baseline 3: the naive design, one MySQL transaction per purchase, 32 connections.
  const conn = await createConnection({ uri: service.mysqlUrl });
  await conn.query('CREATE TABLE IF NOT EXISTS naive_stock (id INT PRIMARY KEY, available INT NOT NULL) ENGINE=InnoDB');
  await conn.query('REPLACE INTO naive_stock VALUES (1, 100000000)');
  await conn.end();
  const pool = createPool({ uri: service.mysqlUrl, connectionLimit: 32 });
  figures.push(
    await medianOf('baseline: naive MySQL FOR UPDATE + UPDATE', f.runs, async () => {
      const end = Date.now() + f.durationSeconds * 1000;
      const started = Date.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          const c = await pool.getConnection();
          try {
            while (Date.now() < end) {
              await c.beginTransaction();
              const [rows] = await c.query('SELECT available FROM naive_stock WHERE id = 1 FOR UPDATE');
              if (Number((rows as Array<{ available: number }>)[0]?.available) > 0) await c.query('UPDATE naive_stock SET available = available - 1 WHERE id = 1');
              await c.commit();
              done++;
            }
          } finally {
            c.release();
          }
        }),
      );
      return { opsPerSec: (done * 1000) / (Date.now() - started) };
    }),
  );
  await pool.end();

  print('Purchase endpoint', figures, [
    ['reserving / bare Fastify (target ≥ 0.3)', 'purchase: reserving (202)', 'baseline: bare Fastify route'],
    ['sold out / bare Fastify (target ≥ 0.5)', 'purchase: sold out (409)', 'baseline: bare Fastify route'],
    ['limit exceeded / bare Fastify', 'purchase: limit exceeded (409)', 'baseline: bare Fastify route'],
    ['reserving / reserve Lua via ioredis', 'purchase: reserving (202)', 'baseline: reserve Lua via ioredis (pipelined)'],
    ['reserving / naive MySQL (target ≥ 20)', 'purchase: reserving (202)', 'baseline: naive MySQL FOR UPDATE + UPDATE'],
    ['sold out / naive MySQL', 'purchase: sold out (409)', 'baseline: naive MySQL FOR UPDATE + UPDATE'],
  ]);
} finally {
  http.close();
  redis.disconnect();
  await running.stop();
  await dropServiceData(service);
  await deleteRedisPrefix(service.redisUrl, `${service.redisPrefix}_lua`);
}
