/**
 * Read path: the activity detail with the service's multi-level cache (local → Redis → MySQL)
 * versus the same JSON built straight from MySQL on every request (a bare Fastify route with a
 * mysql2 pool). `node bench/read-path.ts [--smoke] [--runs N] [--duration S] [--connections C]`
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, startService } from '../src/demo/service.ts';
import { CEILING, driverCeiling, type Figure, flags, fromLoad, load, medianOf, openSale, print, startBare } from './lib.ts';

const f = flags(
  'bench/read-path',
  `usage: node_modules/.bin/node bench/read-path.ts [--smoke] [--runs N] [--duration SECONDS] [--connections N]

The activity detail through the service's multi-level cache (process, Redis, MySQL) against the same
JSON built straight from MySQL on every request (a bare Fastify route with a mysql2 pool). Starts its
own service with its own database, Redis prefix and topic prefix, dropped afterwards. A benchmark, not
a test.`,
);
const service = await demoEnv({ paymentTimeoutSeconds: 300, extra: { SECKILL_LOG_LEVEL: 'error', SECKILL_PAYMENT_SIMULATOR: '0' } });
const running = await startService(service, join(tmpdir(), `seckill-bench-read-${process.pid}.log`), 60_000, { cpu: 1 });
const http = createHttpClient(service.url, 8);
const figures: Figure[] = [];
try {
  const id = await openSale(http, service.adminToken, { name: 'bench read', stock: 1000 });
  figures.push(
    await medianOf('activity detail: service (cached)', f.runs, async () =>
      fromLoad(await load({ url: service.url, method: 'GET', path: `/api/v1/activities/${id}` }, f), '200'),
    ),
  );
  const bare = await startBare(service.mysqlUrl);
  try {
    figures.push(
      await medianOf('baseline: straight MySQL per request', f.runs, async () =>
        fromLoad(await load({ url: bare.url, method: 'GET', path: `/api/v1/activities/${id}` }, f), '200'),
      ),
    );
  } finally {
    bare.stop();
  }
  figures.push(await driverCeiling(f));
  print('Read path', figures, [
    ['cached / straight MySQL', 'activity detail: service (cached)', 'baseline: straight MySQL per request'],
    ['cached / driver ceiling', 'activity detail: service (cached)', CEILING],
  ]);
} finally {
  http.close();
  await running.stop();
  await dropServiceData(service);
}
