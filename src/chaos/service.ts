/**
 * The service under test as a real child process (`node src/cli/serve.ts`, API and workers), so a
 * fault can SIGKILL or SIGTERM it and a fresh process can take over on the same port, database,
 * Redis prefix and consumer group, exactly as a process manager would restart it. Its output is
 * kept (a tail in memory, all of it in a file) so a failing check can show what the service said.
 * Every exit is recorded (code, signal, how long a SIGTERM took), for the checker.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const SERVE = fileURLToPath(new URL('../cli/serve.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TAIL_CHARS = 400_000;
/** A process manager's pause before starting a service that refused to start again. */
const RESTART_DELAY_MS = 1000;
/** serve.ts and the primary give a drain this long before they give up (exit 1). */
export const DRAIN_LIMIT_MS = 30_000;

export interface ServiceExit {
  generation: number;
  /** What we sent it (undefined: it exited by itself). */
  signal: 'SIGKILL' | 'SIGTERM' | undefined;
  code: number | null;
  /** The signal it died of, if any. */
  killedBy: string | null;
  at: number;
  /** From our SIGTERM to its exit. */
  tookMs: number | undefined;
  /** It refused to start (a dependency away: one line, exit 1); a process manager starts it again. */
  refusedStart: boolean;
}

export interface ServiceProcess {
  readonly url: string;
  readonly logFile: string;
  readonly exits: ServiceExit[];
  /** Starts a new process (after a kill: the replacement). */
  spawn(): void;
  /** Waits until /readyz answers 200 (bounded); throws with the output's tail otherwise. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Waits until the process answers HTTP at all (any status); returns how long that took from now. */
  waitListening(timeoutMs: number): Promise<number>;
  /** Signals the current process and waits for its exit (a SIGTERM at most the drain limit and 10 s more). */
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<ServiceExit | undefined>;
  /** The pid of API process `index` (node:cluster child; 0 also runs the workers), or of the process itself when it has none. */
  apiProcess(index: number): number | undefined;
  /** The last `lines` lines of everything every process of this service printed. */
  tail(lines?: number): string;
  /** Every line (of every process) that contains `text`. */
  grep(text: string): string[];
  /** Stops the current process (SIGTERM, bounded) and closes the log file. */
  end(): Promise<void>;
}

/** The children of `pid` (Linux keeps the list per thread). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function environOf(pid: number): Map<string, string> {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  } catch {
    return new Map();
  }
}

export function serviceProcess(env: Record<string, string>, logFile: string): ServiceProcess {
  const port = env['PORT'];
  if (!port || port === '0') throw new Error('the service needs a fixed PORT, so its replacement listens where buyers look');
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  let generation = 0;
  const exits: ServiceExit[] = [];
  let ended = false;
  const log: WriteStream = createWriteStream(logFile);
  // A campaign that dies without its clean-up must not leave a server behind.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    log.write(text);
    output = (output + text).slice(-TAIL_CHARS);
  };

  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => c.once('exit', () => resolve()));

  async function answers(path: string): Promise<number | undefined> {
    try {
      const response = await fetch(url + path, { signal: AbortSignal.timeout(3000) });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return undefined;
    }
  }

  const pending = new Map<ChildProcess, { signal: 'SIGKILL' | 'SIGTERM'; at: number }>();

  const service: ServiceProcess = {
    url,
    logFile,
    exits,
    spawn() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('the service already runs');
      generation++;
      const mine = generation;
      keep(Buffer.from(`\n----- service process #${mine} -----\n`));
      // The child is a server, not a test: drop NODE_TEST_CONTEXT (set by `node --test`).
      const { NODE_TEST_CONTEXT: _ignored, ...parentEnv } = process.env;
      const started = spawn(process.execPath, [SERVE], { cwd: ROOT, env: { ...parentEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let refused = false;
      const watch = (chunk: Buffer) => {
        refused ||= chunk.toString().includes('seckill: could not start:');
        keep(chunk);
      };
      started.stdout?.on('data', watch);
      started.stderr?.on('data', watch);
      started.once('exit', (code, killedBy) => {
        const sent = pending.get(started);
        const refusedStart = sent === undefined && code === 1 && refused;
        exits.push({ generation: mine, signal: sent?.signal, code, killedBy, at: Date.now(), tookMs: sent ? Date.now() - sent.at : undefined, refusedStart });
        keep(Buffer.from(`----- service process #${mine} exited (${code ?? killedBy}) -----\n`));
        // As a process manager would: a start refused while a dependency is away is tried again.
        if (refusedStart && !ended) setTimeout(() => !ended && child === started && service.spawn(), RESTART_DELAY_MS).unref();
      });
      child = started;
    },
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (!child || child.exitCode !== null) throw new Error(`the service exited before it was ready:\n${service.tail()}`);
        if ((await answers('/readyz')) === 200) return;
        await sleep(200);
      }
      throw new Error(`the service was not ready within ${timeoutMs} ms:\n${service.tail()}`);
    },
    async waitListening(timeoutMs) {
      const started = Date.now();
      while (Date.now() - started < timeoutMs) {
        if ((await answers('/healthz')) !== undefined) return Date.now() - started;
        await sleep(50);
      }
      throw new Error(`the service did not answer HTTP within ${timeoutMs} ms:\n${service.tail()}`);
    },
    async kill(signal) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return undefined;
      const children = childrenOf(c.pid!);
      pending.set(c, { signal, at: Date.now() });
      c.kill(signal);
      // The drain is bounded by the server itself; past that and a margin, stop it for good.
      const timer = setTimeout(() => c.kill('SIGKILL'), DRAIN_LIMIT_MS + 10_000);
      await exited(c);
      clearTimeout(timer);
      // Its API processes exit when their primary is gone; the port is free only then.
      const deadline = Date.now() + 10_000;
      while (children.some((pid) => readable(`/proc/${pid}/cmdline`)) && Date.now() < deadline) await sleep(50);
      for (const pid of children) if (readable(`/proc/${pid}/cmdline`)) process.kill(pid, 'SIGKILL');
      return exits[exits.length - 1];
    },
    apiProcess(index) {
      const pid = child?.pid;
      if (pid === undefined || child?.exitCode !== null) return undefined;
      // A primary that has not forked its API processes yet (just started) is not one of them.
      if (Number(env['SECKILL_API_PROCESSES'] ?? 1) < 2) return index === 0 ? pid : undefined;
      return childrenOf(pid).find((p) => environOf(p).get('SECKILL_PROCESS_INDEX') === String(index));
    },
    tail(lines = 60) {
      return output.split('\n').slice(-lines).join('\n');
    },
    grep(text) {
      return output.split('\n').filter((line) => line.includes(text));
    },
    async end() {
      ended = true;
      await service.kill('SIGTERM');
      process.off('exit', killOnExit);
      await new Promise<void>((resolve) => log.end(() => resolve()));
    },
  };
  return service;
}

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}
