/**
 * Which API process count is fastest on this machine: the service as `npm start` runs it (API and
 * worker roles, unpinned) with SECKILL_API_PROCESSES = 1, one per usable core (the default) and one
 * more, measured with wrk on the two answers a rush is made of — the sold-out crowd and fresh
 * reservations — beside the driver's ceiling (a trivial node:http server) in the same run. Prints the
 * default the service would pick here, the fastest count, and the line the service logged at start.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { usableCores } from '../src/config.ts';
import { dropServiceData } from '../src/demo/cleanup.ts';
import { createHttpClient } from '../src/demo/http.ts';
import { demoEnv, type RunningService, startService } from '../src/demo/service.ts';
import { driverCeiling, type Figure, flags, fromLoad, load, medianOf, openSale, print, writeTokens } from './lib.ts';

const f = flags(
  'bench/processes',
  `usage: node_modules/.bin/node bench/processes.ts [--smoke] [--runs N] [--duration SECONDS] [--connections N]

The API process count (SECKILL_API_PROCESSES) at 1, at the default (one per usable core) and one above
it, each on the sold-out rush and on fresh reservations, with wrk, beside the driver's ceiling. The
service runs as npm start runs it (API and worker roles, unpinned); its own database and prefixes,
dropped afterwards. Prints the default and the fastest count; a benchmark, not a test.`,
);

const cores = usableCores();
const counts = [...new Set([1, cores.count, cores.count + 1])];
const figures: Figure[] = [];
const startLines: string[] = [];

for (const n of counts) {
  const service = await demoEnv({
    paymentTimeoutSeconds: 300,
    extra: { SECKILL_RATE_USER_PER_SEC: '0', SECKILL_LOG_LEVEL: 'error', SECKILL_PAYMENT_SIMULATOR: '0', ...(n === cores.count ? {} : { SECKILL_API_PROCESSES: String(n) }) },
  });
  const logFile = join(tmpdir(), `seckill-bench-processes-${process.pid}-${n}.log`);
  let running: RunningService | undefined;
  const http = createHttpClient(service.url, 8);
  try {
    running = await startService(service, logFile, 90_000);
    startLines.push(readFileSync(logFile, 'utf8').split('\n').find((l) => l.startsWith('seckill: ') && l.includes('API process')) ?? `(no start line in ${logFile})`);
    const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
    const tokens = writeTokens(Array.from({ length: 5000 }, (_, i) => sign({ sub: `u${i}` })));
    const label = `${n} API process${n > 1 ? 'es' : ''}${n === cores.count ? ' (default)' : ''}`;
    const purchase = (id: string) => ({ url: service.url, method: 'POST' as const, path: `/api/v1/activities/${id}/purchase`, tokensFile: tokens });

    const soldOut = await openSale(http, service.adminToken, { stock: 1, limitPerUser: 1 });
    await http.call('POST', `/api/v1/activities/${soldOut}/purchase`, { token: sign({ sub: 'first' }), body: { requestId: 'first' } });
    // Warm-up, not reported: JIT, pools, every process's sold-out flag.
    await load(purchase(soldOut), { ...f, durationSeconds: 1 });
    figures.push(await medianOf(`sold-out rush: ${label}`, f.runs, async () => fromLoad(await load(purchase(soldOut), f), '409')));

    const reserving = await openSale(http, service.adminToken, { stock: 10_000_000, limitPerUser: 100 });
    figures.push(await medianOf(`reservations: ${label}`, f.runs, async () => fromLoad(await load(purchase(reserving), f), '202')));
  } finally {
    http.close();
    await running?.stop();
    await dropServiceData(service);
  }
}

figures.push(await driverCeiling(f));

const name = (kind: string, n: number) => `${kind}: ${n} API process${n > 1 ? 'es' : ''}${n === cores.count ? ' (default)' : ''}`;
print(
  'API processes (npm start as it runs, unpinned; wrk)',
  figures,
  counts.filter((n) => n !== 1).flatMap((n) => ['sold-out rush', 'reservations'].map((kind): [string, string, string] => [`${kind}, ${n} / 1 process${n === cores.count ? ' (default)' : ''}`, name(kind, n), name(kind, 1)])),
  'wrk pinned to CPU 0 (taskset, when present); the service unpinned, as npm start runs it',
);
const best = (kind: string) => counts.reduce((a, b) => ((figures.find((x) => x.name === name(kind, b))?.opsPerSec ?? 0) > (figures.find((x) => x.name === name(kind, a))?.opsPerSec ?? 0) ? b : a));
process.stdout.write(`\ndefault here: ${cores.count} (${cores.why}); fastest: sold-out rush ${best('sold-out rush')}, reservations ${best('reservations')}\n`);
process.stdout.write(`logged at start:\n${startLines.map((l) => `  ${l}`).join('\n')}\n`);
