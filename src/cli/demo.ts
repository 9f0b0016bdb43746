/**
 * `npm run demo` / `make demo`: a complete, verified flash sale against a service this process
 * starts itself. Exit 0 only when every promise of API.md held; 1 when one was violated; 2 when the
 * demo itself could not run.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type DemoOptions, runDemo } from '../demo/run.ts';

const USAGE = `usage: npm run demo -- [--size small|default] [--units N] [--buyers N] [--concurrency N]
  [--segments N] [--limit N] [--payment-timeout SECONDS] [--anti-bot] [--difficulty BITS]
  [--keep-running] [--keep-data] [--reports DIR]`;

function positive(name: string, text: string | undefined, fallback: number, max = 10_000_000): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    process.stderr.write(`--${name} must be an integer in 1..${max}, got "${text}"\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      size: { type: 'string' },
      units: { type: 'string' },
      buyers: { type: 'string' },
      concurrency: { type: 'string' },
      segments: { type: 'string' },
      limit: { type: 'string' },
      'payment-timeout': { type: 'string' },
      'anti-bot': { type: 'boolean' },
      difficulty: { type: 'string' },
      'keep-running': { type: 'boolean' },
      'keep-data': { type: 'boolean' },
      reports: { type: 'string' },
      help: { type: 'boolean' },
    },
  }));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
if (values['help']) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const size = values['size'] ?? 'default';
if (size !== 'small' && size !== 'default') {
  process.stderr.write(`--size must be small or default\n${USAGE}\n`);
  process.exit(2);
}
const small = size === 'small';
const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);

const options: DemoOptions = {
  units: positive('units', str('units'), small ? 100 : 1000),
  buyers: positive('buyers', str('buyers'), small ? 2000 : 20_000),
  concurrency: positive('concurrency', str('concurrency'), small ? 64 : 200, 10_000),
  segments: positive('segments', str('segments'), 4, 64),
  limit: positive('limit', str('limit'), 1, 100),
  paymentTimeoutSeconds: positive('payment-timeout', str('payment-timeout'), 10, 86_400),
  antiBot: values['anti-bot'] === true,
  // Cheap by default: 20,000 buyers × 2^16 hashes would take the demo minutes on two cores.
  difficulty: Number(str('difficulty') ?? 8),
  keepRunning: values['keep-running'] === true,
  keepData: values['keep-data'] === true || values['keep-running'] === true,
  reportsDir: str('reports') ?? fileURLToPath(new URL('../../reports/', import.meta.url)),
};

try {
  const { report, dir, ok } = await runDemo(options);
  const out = process.stdout;
  out.write('\n');
  out.write(`outcomes: ${Object.entries(report.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  out.write(
    `throughput: ${report.throughput.requests} requests in ${report.throughput.buyingPhaseSeconds} s = ${report.throughput.requestsPerSecond} req/s (peak ${report.throughput.peakRequestsPerSecond})\n`,
  );
  for (const [k, l] of Object.entries(report.latency)) {
    out.write(`latency ${k.padEnd(16)} n=${String(l.count).padEnd(7)} p50 ${l.p50Ms} ms  p99 ${l.p99Ms} ms  p99.9 ${l.p999Ms} ms  max ${l.maxMs} ms\n`);
  }
  out.write(
    `sold out after ${report.timeToSellOutSeconds ?? '-'} s; queue drained after ${report.timeToDrainSeconds ?? '-'} s; ${report.ordersPersistedPerSecond ?? '-'} orders persisted/s\n`,
  );
  out.write(`payment: ${JSON.stringify(report.payment)}\n`);
  for (const p of report.promises) {
    const verdict = !p.checked ? 'not checked' : p.held ? 'held' : 'VIOLATED';
    out.write(`promise ${p.id} ${p.title}: ${verdict}${p.violations.length ? ` — ${p.violations.join('; ')}` : ''}\n`);
  }
  for (const n of report.notes) out.write(`note: ${n}\n`);
  out.write(`report: ${dir}/report.html (and report.json)\n`);
  process.exit(ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
}
