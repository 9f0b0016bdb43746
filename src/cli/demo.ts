/**
 * `npm run demo` / `make demo`: a complete, verified flash sale against a service this process
 * starts itself. Exit 0 only when every promise of docs/api.md held; 1 when one was violated; 2 when the
 * demo itself could not run.
 */
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from './command-line.ts';
import { redisClusterNodes, redisClusterSummary } from './services/cluster.ts';
import { aftermathSentence, fmt, ms, PROMISE_TITLES, seconds, summarySentence, verdict } from '../demo/report-text.ts';
import { type DemoOptions, runDemo } from '../demo/run.ts';

const USAGE = `usage: npm run demo -- [--size small|default] [--units N] [--buyers N] [--concurrency N]
  [--segments N] [--shards N] [--topology single|cluster] [--limit N] [--payment-timeout SECONDS] [--anti-bot] [--difficulty BITS] [--rush]
  [--keep-running] [--keep-data] [--reports DIR]
       (node_modules/.bin/node src/cli/demo.ts [flags]; make demo DEMO_ARGS="...")`;

const HELP = `${USAGE}

Runs a complete, verified flash sale: starts its own service (node src/cli/serve.ts, payment simulator
and dev tokens on) with a fresh database (seckill_demo_<id>), Redis key prefix and Kafka topic prefix,
sends the crowd over real HTTP, runs the payment phase, then checks every promise of docs/api.md against
MySQL and Redis and writes reports/<time>/report.json and report.html. Exit 0 when every promise held,
1 when one was violated, 2 when the demo could not run. Its data is dropped afterwards unless
--keep-data or --keep-running.

  --size small|default   100 units / 2,000 buyers, or 1,000 / 20,000
  --units, --buyers, --concurrency, --segments, --shards, --limit (per user), --payment-timeout
  --topology cluster     against \`npm run services -- --topology cluster\` (refused unless it is up)
  --anti-bot, --difficulty BITS   proof-of-work challenge before each purchase
  --rush                 no waiting room: everyone hammers purchase at the start (by default the
                         sale runs through a random-mode waiting room: pre-queue, shuffle, passes)
  --keep-running         leave the service up after the report; --reports DIR: where reports go

Where Redis, MariaDB and Kafka are (start them with \`npm run services\`): SECKILL_REDIS_URL,
SECKILL_MYSQL_URL (its server; the database name is the demo's own), SECKILL_KAFKA_BROKERS.
More: README.md, "Quick start".`;

function positive(name: string, text: string | undefined, fallback: number, max = 10_000_000): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    process.stderr.write(`--${name} must be an integer in 1..${max}, got "${text}"\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

const { values } = parseCommandLine(
  { name: 'demo', usage: HELP },
  {
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
      rush: { type: 'boolean' },
      difficulty: { type: 'string' },
      'keep-running': { type: 'boolean' },
      'keep-data': { type: 'boolean' },
      reports: { type: 'string' },
    },
  },
);
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
const str = (k: keyof typeof values) => {
  const value = values[k];
  return typeof value === 'string' ? value : undefined;
};

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
  waitingRoom: values['rush'] !== true,
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
  const q = report.waitingRoom;
  if (q) {
    out.write(
      `waiting room: ${fmt(q.joined)} joined (${fmt(q.prequeue)} before the start), ${fmt(q.admitted)} admitted, ${fmt(q.learnedEarlyNoChance)} told early they had no chance, ${fmt(q.leftLineStopped)} left when the line stopped` +
        `${q.waitSeconds ? `; wait to admission p50 ${q.waitSeconds.p50.toFixed(1)} s, p90 ${q.waitSeconds.p90.toFixed(1)} s, max ${q.waitSeconds.max.toFixed(1)} s` : ''}\n`,
    );
    const fair = q.fairness;
    out.write(
      `fairness: ${fair.spearman === null ? `not checked (${fair.prequeue} pre-queue tickets read)` : `Spearman ρ(join order, place in line) = ${fair.spearman} over ${fair.prequeue} pre-queue tickets, |ρ| < ${fair.limit}: ${fair.uniform ? 'UNIFORM' : 'NOT UNIFORM'}`}\n`,
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
