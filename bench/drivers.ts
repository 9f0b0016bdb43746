/**
 * The load generators of the benchmarks, native code in their own processes, pinned to CPU 0 when
 * taskset exists (the server under test gets CPU 1). A Node-based driver on the same two cores takes
 * a core itself and tops out far below a trivial server (it measured 0.75x for two API processes
 * against one, where wrk measured 1.2-1.8x): its figures describe the driver, not the service.
 *
 * - wrk (Debian's package, installed on first use): closed loop, many keep-alive connections, a Lua
 *   script (bench/wrk/requests.lua) that gives every request a buyer's token and a requestId and
 *   counts every status. Throughput at saturation.
 * - openload (bench/openload/openload.c, compiled on first use with the machine's cc): open model.
 *   Request i is due at start + i / rate whatever the server does, and its latency counts from then,
 *   so a server that falls behind shows the queue a crowd would see (coordinated omission corrected).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommand } from '../src/cli/services/process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRK_SCRIPT = fileURLToPath(new URL('./wrk/requests.lua', import.meta.url));
const OPENLOAD_SOURCE = fileURLToPath(new URL('./openload/openload.c', import.meta.url));
const OPENLOAD = join(ROOT, '.local', 'bench', 'openload');

const has = (command: string, args: string[]) => {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const hasTaskset = has('taskset', ['-c', '0', 'true']);

/** `command args` pinned to `cpu` when taskset exists. */
export function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return hasTaskset ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}


/** Compiles openload into .local/bench when it is missing or older than its source. */
export function ensureOpenload(): string {
  if (!existsSync(OPENLOAD) || statSync(OPENLOAD).mtimeMs < statSync(OPENLOAD_SOURCE).mtimeMs) {
    mkdirSync(join(ROOT, '.local', 'bench'), { recursive: true });
    execFileSync('cc', ['-O2', '-o', OPENLOAD, OPENLOAD_SOURCE], { stdio: 'inherit' });
  }
  return OPENLOAD;
}

/** One token per line, for wrk and openload; returns the file. */
export function writeTokens(tokens: string[]): string {
  const file = join(tmpdir(), `seckill-bench-tokens-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(file, `${tokens.join('\n')}\n`);
  return file;
}

export interface DriverResult {
  requests: number;
  seconds: number;
  requestsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Connections refused, reset or timed out (statuses are counted apart). */
  errors: number;
  statuses: Record<string, number>;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = pinned(0, command, args);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${err || out}`))));
  });
}

const lastJson = <T>(output: string): T => JSON.parse(output.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as T;

export interface WrkSpec {
  url: string;
  /** fresh: POST with a new requestId each time; replay: one requestId per token; get: GET. */
  mode: 'fresh' | 'replay' | 'get';
  tokensFile?: string;
  seconds: number;
  connections: number;
  threads?: number;
}

let runs = 0;

/** A closed-loop run of wrk: throughput at saturation, latency from each send. */
export async function wrk(spec: WrkSpec): Promise<DriverResult> {
  // Debian's wrk, installed on first use like the other tools the project needs.
  ensureCommand('wrk', 'wrk');
  const args = ['-t', String(spec.threads ?? 2), '-c', String(spec.connections), '-d', `${spec.seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT, spec.url, '--', spec.mode];
  // A run id per invocation: with the same tokens, a second run's fresh requestIds would otherwise
  // repeat the first's, and every "fresh" request would be a replay of a stored answer.
  if (spec.tokensFile) args.push(spec.tokensFile, `${(runs++).toString(36)}${Date.now().toString(36)}-`);
  const r = lastJson<Omit<DriverResult, 'requestsPerSec'>>(await run('wrk', args));
  return { ...r, requestsPerSec: r.seconds > 0 ? r.requests / r.seconds : 0 };
}

export interface OpenSpec {
  url: string;
  tokensFile: string;
  /** Arrivals per second, evenly spaced. */
  rate: number;
  seconds: number;
  /** Keep-alive connections the crowd may use at most. */
  connections: number;
  runId: string;
}

export interface OpenResult extends DriverResult {
  /** Requests that were due but waited for a free connection, at most. */
  maxBacklog: number;
  scheduled: number;
}

/** An open-model run of openload: latency from each arrival's due time. */
export async function openModel(spec: OpenSpec): Promise<OpenResult> {
  const binary = ensureOpenload();
  const url = new URL(spec.url);
  const r = lastJson<{ scheduled: number; completed: number; seconds: number } & Omit<OpenResult, 'requests' | 'requestsPerSec'>>(
    await run(binary, [url.hostname, url.port, url.pathname, spec.tokensFile, String(spec.rate), String(spec.seconds), String(spec.connections), spec.runId]),
  );
  return { ...r, requests: r.completed, requestsPerSec: r.seconds > 0 ? r.completed / r.seconds : 0 };
}
