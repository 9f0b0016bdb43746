/**
 * `npm run demo` / `make demo`: a complete, verified flash sale against a service this process
 * starts itself. Exit 0 only when every promise of API.md held; 1 when one was violated; 2 when the
 * demo itself could not run.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { redisClusterNodes, redisClusterSummary } from './services/cluster.ts';
import { aftermathSentence, fmt, ms, PROMISE_TITLES, seconds, summarySentence, verdict } from '../demo/report-text.ts';
import { type DemoOptions, runDemo } from '../demo/run.ts';

const USAGE = `usage: npm run demo -- [--size small|default] [--units N] [--buyers N] [--concurrency N]
  [--segments N] [--shards N] [--topology single|cluster] [--limit N] [--payment-timeout SECONDS] [--anti-bot] [--difficulty BITS]
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
      shards: { type: 'string' },
      topology: { type: 'string' },
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
const topology = values['topology'] ?? 'single';
if (topology !== 'single' && topology !== 'cluster') {
  process.stderr.write(`--topology must be single or cluster\n${USAGE}\n`);
  process.exit(2);
}
if (topology === 'cluster') {
  const redis = await redisClusterSummary(redisClusterNodes());
  if (!redis.ok) {
    process.stderr.write(`the cluster topology is not up (${redis.line}); start it with: npm run services -- --topology cluster\n`);
    process.exit(2);
  }
}
const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);

const options: DemoOptions = {
  units: positive('units', str('units'), small ? 100 : 1000),
  buyers: positive('buyers', str('buyers'), small ? 2000 : 20_000),
  concurrency: positive('concurrency', str('concurrency'), small ? 64 : 200, 10_000),
  segments: positive('segments', str('segments'), 4, 64),
  ...(str('shards') === undefined ? {} : { shards: positive('shards', str('shards'), 1, 64) }),
  topology,
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
  out.write(`${summarySentence(report)}\n`);
  const aftermath = aftermathSentence(report);
  if (aftermath) out.write(`${aftermath}\n\n`);
  out.write(`answers: ${Object.entries(report.outcomes).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}\n`);
  out.write(
    `throughput: ${fmt(report.throughput.requests)} requests in ${seconds(report.throughput.buyingPhaseSeconds)} = ${fmt(report.throughput.requestsPerSecond)} req/s (peak ${fmt(report.throughput.peakRequestsPerSecond)})\n`,
  );
  for (const [k, l] of Object.entries(report.latency)) {
    out.write(`latency ${k.padEnd(16)} n=${fmt(l.count).padEnd(8)} p50 ${ms(l.p50Ms)}  p99 ${ms(l.p99Ms)}  p99.9 ${ms(l.p999Ms)}  max ${ms(l.maxMs)}\n`);
  }
  const w = report.payment.waitlist;
  if (report.payment.ran) {
    out.write(
      `waitlist: ${fmt(w.joined)} joined, ${fmt(w.offered)} offered, ${fmt(w.purchasedFromOffer)} bought with their offer, ${fmt(w.expired)} offers expired, ${fmt(w.refusedNotSoldOut)} joins refused NOT_SOLD_OUT\n`,
    );
  }
  for (const p of report.promises) {
    out.write(`promise ${p.id} ${PROMISE_TITLES[p.id]}: ${verdict(p).toUpperCase()}${p.violations.length ? ` — ${p.violations.join('; ')}` : ''}\n`);
  }
  for (const n of report.notes) out.write(`note: ${n}\n`);
  out.write(`report: ${dir}/report.html (and report.json)\n`);
  process.exit(ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
}
