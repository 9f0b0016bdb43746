/**
 * Shared plumbing of the benchmarks: flags, servers under test pinned to CPU 1, the load generators
 * (bench/drivers.ts) pinned to CPU 0, medians, and the table printed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../src/cli/command-line.ts';
import { redisNode } from '../src/cli/services/redis.ts';
import { waitUntilAnswering } from '../src/cli/services/service.ts';
import type { HttpClient } from '../src/demo/http.ts';
import { freePort } from '../src/demo/service.ts';
import { type DriverResult, hasTaskset, pinned, wrk } from './drivers.ts';

export { writeTokens } from './drivers.ts';

export interface BenchFlags {
  smoke: boolean;
  /** Take a CPU profile of each phase (where a benchmark supports it). */
  profile: boolean;
  runs: number;
  durationSeconds: number;
  connections: number;
}

/** The flags every benchmark takes, for its --help. */
export const BENCH_FLAGS = `  --smoke             one short run (1 run of 1 s): checks the benchmark works, measures nothing
  --runs N            runs per figure; the median is reported [3]
  --duration SECONDS  length of each run [5]
  --connections N     keep-alive connections of the load generator [200]
  --profile           also a CPU profile of each phase, where the benchmark supports it

Needs the services it uses up (npm run services), at SECKILL_REDIS_URL, SECKILL_MYSQL_URL (its
server; the benchmark makes and drops its own database) and SECKILL_KAFKA_BROKERS. The load
generators are native (wrk, installed from Debian's packages on first use; bench/openload, compiled
with cc on first use). Do not run two at once on a small machine: they share its cores. Results and
the commands that produced them: bench/RESULTS.md.`;

/** Parses the common flags; `--help` prints `usage` (with the common flags) and exits 0 first. */
export function flags(name: string, usage: string): BenchFlags {
  const { values } = parseCommandLine(
    { name, usage: `${usage}\n\n${BENCH_FLAGS}` },
    {
      options: { smoke: { type: 'boolean' }, profile: { type: 'boolean' }, runs: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } },
    },
  );
  const positive = (flag: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (Number.isInteger(n) && n > 0) return n;
    process.stderr.write(`${name}: --${flag} must be a positive integer, got "${text}" (${name} --help shows the usage)\n`);
    process.exit(2);
  };
  const smoke = values.smoke === true;
  return {
    smoke,
    profile: values.profile === true,
    runs: positive('runs', values.runs, smoke ? 1 : 3),
    durationSeconds: positive('duration', values.duration, smoke ? 1 : 5),
    connections: positive('connections', values.connections, 200),
  };
}

export const coreSplit = hasTaskset
  ? 'load generator (wrk or openload) pinned to CPU 0, server under test pinned to CPU 1 (taskset); Redis/MariaDB/Kafka unpinned'
  : 'no taskset: load generator and server share both cores';

/** Spawns `node <args>` pinned to `cpu` when taskset exists. */
export function nodeOn(cpu: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  const [cmd, argv] = pinned(cpu, process.execPath, args);
  return spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** One closed-loop wrk run against `url + path`. */
export function load(spec: { url: string; method: 'GET' | 'POST'; path: string; tokensFile?: string; replay?: boolean }, f: BenchFlags): Promise<DriverResult> {
  return wrk({
    url: spec.url + spec.path,
    mode: spec.method === 'GET' ? 'get' : spec.replay ? 'replay' : 'fresh',
    ...(spec.tokensFile ? { tokensFile: spec.tokensFile } : {}),
    seconds: f.durationSeconds,
    connections: f.connections,
  });
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Figure {
  name: string;
  opsPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  note?: string;
}

/** Runs `fn` `runs` times and keeps the medians. */
export async function medianOf(name: string, runs: number, fn: () => Promise<Omit<Figure, 'name'>>): Promise<Figure> {
  const got: Array<Omit<Figure, 'name'>> = [];
  for (let i = 0; i < runs; i++) got.push(await fn());
  const pick = (k: 'p50Ms' | 'p99Ms') => (got.every((g) => g[k] !== undefined) ? median(got.map((g) => g[k]!)) : undefined);
  const figure: Figure = { name, opsPerSec: Math.round(median(got.map((g) => g.opsPerSec))) };
  const p50 = pick('p50Ms');
  const p99 = pick('p99Ms');
  if (p50 !== undefined) figure.p50Ms = p50;
  if (p99 !== undefined) figure.p99Ms = p99;
  const note = got.find((g) => g.note)?.note;
  if (note) figure.note = note;
  return figure;
}

export function fromLoad(r: DriverResult, expectStatus: string): Omit<Figure, 'name'> {
  const expected = r.statuses[expectStatus] ?? 0;
  const share = r.requests > 0 ? expected / r.requests : 0;
  return {
    opsPerSec: Math.round(r.requestsPerSec),
    p50Ms: Math.round(r.p50Ms * 10) / 10,
    p99Ms: Math.round(r.p99Ms * 10) / 10,
    note: `${Math.round(share * 100)}% ${expectStatus} ${JSON.stringify(r.statuses)}${r.errors ? ` errors ${r.errors}` : ''}`,
  };
}

/**
 * `ratios`: [label, figure, baseline figure], and optionally the ratio itself when it was measured
 * otherwise (the median of runs paired with their baseline); `cores` says how the run used the cores
 * when it is not the usual split.
 */
export function print(title: string, figures: Figure[], ratios: Array<[string, string, string, number?]>, cores = coreSplit): void {
  const byName = new Map(figures.map((f) => [f.name, f]));
  // The machine may be shared: the load average says how much else ran beside the figures.
  process.stdout.write(`\n## ${title}\n${cores}; load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}\n`);
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(44)} ${String(f.opsPerSec).padStart(8)} ops/s` +
        `${f.p50Ms !== undefined ? `  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms` : ''}${f.note ? `  (${f.note})` : ''}\n`,
    );
  }
  const measured: Record<string, number> = {};
  for (const [label, a, b, given] of ratios) {
    const x = byName.get(a)?.opsPerSec;
    const y = byName.get(b)?.opsPerSec;
    const ratio = given !== undefined && Number.isFinite(given) && given > 0 ? given : x && y ? x / y : undefined;
    process.stdout.write(`ratio ${label.padEnd(50)} ${ratio !== undefined ? ratio.toFixed(2) : 'n/a'}×${given !== undefined ? ' (median of runs paired with the baseline)' : ''}\n`);
    if (ratio !== undefined) measured[ratioKey(label)] = Math.round(ratio * 1000) / 1000;
  }
  // One machine-readable line: what bench/ratios.ts records and the regression guard compares.
  process.stdout.write(`${RATIOS_LINE} ${JSON.stringify(measured)}\n`);
}

export const RATIOS_LINE = 'ratios-json';

/** A ratio's name without the target in brackets, so a changed target keeps its record. */
export const ratioKey = (label: string): string => label.replace(/\s*\(target[^)]*\)\s*$/, '').trim();

/** Starts the bare Fastify baseline pinned like the service; resolves with its URL. */
export function startBare(mysqlUrl?: string): Promise<{ url: string; pid: number; stop(): void }> {
  return startBaseline('bare-fastify.ts', mysqlUrl ? [mysqlUrl] : []);
}

/** Starts the contract's floor (bench/contract-floor.ts) pinned like the service, verifying tokens signed with `jwtSecret`. */
export function startContractFloor(jwtSecret: string): Promise<{ url: string; pid: number; stop(): void }> {
  return startBaseline('contract-floor.ts', [jwtSecret]);
}

export const CEILING = 'ceiling: trivial node:http server (1 process)';

/**
 * The driver's ceiling, measured like every figure beside it: wrk against the trivial server
 * (pinned to CPU 1). No figure of the same run can go above it; how close one comes is how close
 * it is to the limit of the driver and one core.
 */
export async function driverCeiling(f: BenchFlags): Promise<Figure> {
  const trivial = await startTrivial();
  try {
    return await medianOf(CEILING, f.runs, async () => fromLoad(await load({ url: trivial.url, method: 'POST', path: '/api/v1/activities/1/purchase' }, f), '409'));
  } finally {
    trivial.stop();
  }
}

/** Starts the driver's ceiling (bench/trivial-server.ts) pinned like the service. */
export function startTrivial(): Promise<{ url: string; pid: number; stop(): void }> {
  return startBaseline('trivial-server.ts', []);
}

async function startBaseline(script: string, args: string[]): Promise<{ url: string; pid: number; stop(): void }> {
  const child = nodeOn(1, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
  return { url, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/**
 * Creates a commodity and an activity on sale from a second ago for an hour, through the admin
 * API; resolves with the activity id. `fields` adds to or overrides the activity's fields.
 */
export async function openSale(http: HttpClient, adminToken: string, fields: Record<string, unknown>): Promise<string> {
  const admin = (path: string, body: unknown) => http.call('POST', path, { token: adminToken, body });
  const commodity = await admin('/api/v1/admin/commodities', { name: 'bench', priceCents: 100 });
  if (commodity.status !== 201) throw new Error(`create commodity: ${commodity.status} ${JSON.stringify(commodity.body)}`);
  const now = Date.now();
  const created = await admin('/api/v1/admin/activities', {
    name: 'bench',
    commodityId: (commodity.body as { commodity: { id: string } }).commodity.id,
    priceCents: 100,
    startAt: new Date(now - 1000).toISOString(),
    endAt: new Date(now + 3600_000).toISOString(),
    ...fields,
  });
  if (created.status !== 201) throw new Error(`create activity: ${created.status} ${JSON.stringify(created.body)}`);
  return (created.body as { activity: { id: string } }).activity.id;
}

/** A benchmark's own redis-server: diskless, on a free port; `stop()` kills it and removes its folder. */
export async function startOwnRedis(name: string): Promise<{ url: string; pid: number; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), `seckill-${name}-`));
  const service = redisNode({ name, dir, endpoint: { host: '127.0.0.1', port: await freePort() } });
  service.prepare();
  const pid = await service.start();
  await waitUntilAnswering(service, pid);
  return {
    url: `redis://127.0.0.1:${service.endpoint.port}`,
    pid,
    stop() {
      process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
