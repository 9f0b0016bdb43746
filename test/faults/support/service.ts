/**
 * The service under test as a real child process (`node src/cli/serve.ts`, API and workers), so a
 * fault can SIGKILL it and a fresh process can take over on the same port, database, Redis prefix
 * and consumer group, exactly as a process manager would restart it. Its output is kept (a tail in
 * memory, all of it in a file) so a failing check can show what the service said.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const SERVE = fileURLToPath(new URL('../../../src/cli/serve.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TAIL_CHARS = 200_000;

export interface ServiceProcess {
  readonly url: string;
  /** Starts a new process (after a kill: the replacement). Resolves once it spawned. */
  spawn(): void;
  /** Waits until /readyz answers 200 (bounded); throws with the output's tail otherwise. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Waits until the process answers HTTP at all (any status); returns how long that took from now. */
  waitListening(timeoutMs: number): Promise<number>;
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null>;
  /** The last `lines` lines of everything every process of this service printed. */
  tail(lines?: number): string;
  /** Every line (of every process) that contains `text`. */
  grep(text: string): string[];
  /** Stops the current process (SIGTERM, bounded) and closes the log file. */
  end(): Promise<void>;
  readonly logFile: string;
}

export function serviceProcess(env: Record<string, string>, logFile: string): ServiceProcess {
  const port = env['PORT'];
  if (!port || port === '0') throw new Error('the service needs a fixed PORT, so its replacement listens where buyers look');
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  let generation = 0;
  const log: WriteStream = createWriteStream(logFile);
  // A test process that dies without its after() hooks must not leave a server behind.
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

  const service: ServiceProcess = {
    url,
    logFile,
    spawn() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('the service already runs');
      generation++;
      keep(Buffer.from(`\n----- service process #${generation} -----\n`));
      // The child is a server, not a test: drop NODE_TEST_CONTEXT (set by `node --test`).
      const { NODE_TEST_CONTEXT: _ignored, ...parentEnv } = process.env;
      const started = spawn(process.execPath, [SERVE], { cwd: ROOT, env: { ...parentEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      started.stdout?.on('data', keep);
      started.stderr?.on('data', keep);
      started.once('exit', (code, signal) => keep(Buffer.from(`----- service process #${generation} exited (${code ?? signal}) -----\n`)));
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
      if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
      c.kill(signal);
      // A SIGTERM drain is bounded by the server itself (30 s); past that, stop it for good.
      const timer = setTimeout(() => c.kill('SIGKILL'), 40_000);
      await exited(c);
      clearTimeout(timer);
      return c.exitCode;
    },
    tail(lines = 60) {
      return output.split('\n').slice(-lines).join('\n');
    },
    grep(text) {
      return output.split('\n').filter((line) => line.includes(text));
    },
    async end() {
      await service.kill('SIGTERM');
      process.off('exit', killOnExit);
      await new Promise<void>((resolve) => log.end(() => resolve()));
    },
  };
  return service;
}
