/**
 * `npm start` under a process manager: a container runtime or supervisor sends
 * SIGTERM to the process it started, which is npm. npm forwards the signal to the script's shell;
 * a shell that is not the server itself dies of it and leaves the server orphaned, still holding its
 * port, its consumer-group membership and its worker-id lease. The promise: SIGTERM to `npm start`
 * drains the server and npm exits 0 within seconds, and no server process of this test remains.
 *
 * The server is found by its environment (this test's unique Redis prefix) in /proc, so the check
 * holds whatever sits between npm and node (a shell or not).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../src/demo/service.ts';
import { testEnv } from '../support/env.ts';

const ROOT = new URL('../../', import.meta.url);
const READY_WITHIN_MS = 120_000;
/** Drain and exit: seconds in practice; generous because the test machine is shared and loaded. */
const EXIT_WITHIN_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readProc(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // gone in between, or not ours to read
  }
}

/**
 * Live (not zombie) node processes running serve.ts with `marker` (NAME=value) in their environment;
 * a shell whose command line merely mentions serve.ts is not the server.
 */
function serverPids(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = readProc(pid, 'cmdline')?.split('\0') ?? [];
    if (!/(^|\/)node$/.test(argv[0] ?? '') || !argv.some((arg) => arg.endsWith('serve.ts'))) continue;
    const environ = readProc(pid, 'environ');
    if (!environ?.split('\0').includes(marker)) continue;
    const state = readProc(pid, 'stat')?.replace(/^.*\)\s+/, '')[0];
    if (state === undefined || state === 'Z') continue;
    found.push(Number(pid));
  }
  return found;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

test('SIGTERM to `npm start` drains the server, exits 0 and leaves no server process behind', async () => {
  const port = await freePort();
  const env = testEnv({ PORT: String(port) }, 'npmstart');
  const marker = `SECKILL_REDIS_PREFIX=${env.env.SECKILL_REDIS_PREFIX}`;
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, ...env.env, npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = exited(child);
  try {
    const readyBy = Date.now() + READY_WITHIN_MS;
    let ready = false;
    while (!ready && Date.now() < readyBy && child.exitCode === null) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
        (response) => response.status === 200,
        () => false,
      );
      if (!ready) await sleep(250);
    }
    assert.ok(ready, `npm start never became ready on port ${port}:\n${output}`);
    // One process, or a primary and its workers (SECKILL_API_PROCESSES): all must be gone after.
    assert.ok(serverPids(marker).length >= 1, 'the server process is found before SIGTERM');

    const killedAt = performance.now();
    child.kill('SIGTERM');
    const result = await Promise.race([exit, sleep(EXIT_WITHIN_MS).then(() => undefined)]);
    assert.ok(result !== undefined, `npm start did not exit within ${EXIT_WITHIN_MS} ms of SIGTERM:\n${output}`);
    assert.deepEqual(result, { code: 0, signal: null }, `npm start exit after SIGTERM:\n${output}`);
    assert.ok(performance.now() - killedAt < EXIT_WITHIN_MS);
    assert.deepEqual(serverPids(marker), [], 'no server process of this test outlives npm');
    // The server really stopped listening (an orphan would still answer).
    const stillAnswering = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      () => true,
      () => false,
    );
    assert.equal(stillAnswering, false, 'nothing answers on the port after npm exited');
  } finally {
    // Whatever failed above, nothing of this test may keep running.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of serverPids(marker)) process.kill(pid, 'SIGKILL');
    await Promise.race([exit, sleep(5_000)]);
    await env.cleanup();
  }
});
