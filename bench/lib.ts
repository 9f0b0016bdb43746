/**
 * Shared plumbing of the benchmarks: flags, the service under test as a child process, autocannon
 * in another child process, medians, and the table printed at the end.
 *
 * Cores (this machine has 2): with `taskset` available, the service (or the bare baseline) is
 * pinned to CPU 1 and the load generator to CPU 0; Redis, MariaDB and Kafka float over both.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HttpClient } from '../src/demo/http.ts';

export interface BenchFlags {
  smoke: boolean;
  runs: number;
  durationSeconds: number;
  connections: number;
}

export function flags(): BenchFlags {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean' }, runs: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } },
  });
  const smoke = values.smoke === true;
  return {
    smoke,
    runs: Number(values.runs ?? (smoke ? 1 : 3)),
    durationSeconds: Number(values.duration ?? (smoke ? 1 : 5)),
    connections: Number(values.connections ?? 64),
  };
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

export const coreSplit = hasTaskset
  ? 'load generator pinned to CPU 0, server under test pinned to CPU 1 (taskset); Redis/MariaDB/Kafka unpinned'
  : 'no taskset: load generator and server share both cores';

/** Spawns `node <args>` pinned to `cpu` when taskset exists. */
export function nodeOn(cpu: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
  return spawn(cmd as string, argv as string[], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface LoadResult {
  requestsPerSec: number;
  total: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
}

const LOAD = fileURLToPath(new URL('./load.ts', import.meta.url));

export function writeTokens(tokens: string[]): string {
  const file = join(tmpdir(), `seckill-bench-tokens-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(tokens));
  return file;
}

let runCounter = 0;

/** One autocannon run in its own process. */
export async function load(spec: { url: string; method: 'GET' | 'POST'; path: string; tokensFile?: string }, f: BenchFlags): Promise<LoadResult> {
  const child = nodeOn(0, [
    LOAD,
    JSON.stringify({ ...spec, durationSeconds: f.durationSeconds, connections: f.connections, runId: `b${process.pid}x${Date.now().toString(36)}x${runCounter++}` }),
  ]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`load generator failed (${code}): ${err}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult;
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

export function fromLoad(r: LoadResult, expectStatus: string): Omit<Figure, 'name'> {
  const expected = r.statuses[expectStatus] ?? 0;
  const share = r.total > 0 ? expected / r.total : 0;
  return {
    opsPerSec: r.requestsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    note: `${Math.round(share * 100)}% ${expectStatus} ${JSON.stringify(r.statuses)}${r.errors ? ` errors ${r.errors}` : ''}`,
  };
}

/** `cores` says how the run used the cores when it is not the usual split. */
export function print(title: string, figures: Figure[], ratios: Array<[string, string, string]>, cores = coreSplit): void {
  const byName = new Map(figures.map((f) => [f.name, f]));
  process.stdout.write(`\n## ${title}\n${cores}\n`);
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(44)} ${String(f.opsPerSec).padStart(8)} ops/s` +
        `${f.p50Ms !== undefined ? `  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms` : ''}${f.note ? `  (${f.note})` : ''}\n`,
    );
  }
  for (const [label, a, b] of ratios) {
    const x = byName.get(a)?.opsPerSec;
    const y = byName.get(b)?.opsPerSec;
    process.stdout.write(`ratio ${label.padEnd(50)} ${x && y ? (x / y).toFixed(2) : 'n/a'}×\n`);
  }
}

/** Starts the bare Fastify baseline pinned like the service; resolves with its URL. */
export async function startBare(mysqlUrl?: string): Promise<{ url: string; stop(): void }> {
  const child = nodeOn(1, [fileURLToPath(new URL('./bare-fastify.ts', import.meta.url)), ...(mysqlUrl ? [mysqlUrl] : [])]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error(`bare fastify exited ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
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
