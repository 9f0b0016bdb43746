/**
 * Graceful shutdown: `node src/cli/serve.ts` drains on SIGTERM — every request the
 * server had already accepted gets a real HTTP answer — and exits 0 within 30 s.
 *
 * Making "in flight at SIGTERM" robust rather than a timing guess:
 *  - One request is provably accepted and still running: a POST sent with `Expect: 100-continue`.
 *    The server answers `100 Continue` only after it has parsed the headers (the request is
 *    routed and active), so the test waits for that, sends SIGTERM, waits a while, and only then
 *    sends the body. The answer must still be a 200 from the real handler.
 *  - Load on /readyz (real Redis/MySQL/Kafka I/O) from several keep-alive connections, SIGTERM in
 *    the middle. A request counts as "sent before SIGTERM" when its bytes were flushed to the
 *    kernel (`finish`) before kill() on a socket the server had already accepted (a reused
 *    keep-alive socket). Every such request must end with 200 or 503 (503 = routed while closing),
 *    never a socket error. Requests written after SIGTERM may be refused; they are not counted.
 *
 * The second test: a keep-alive connection whose request was in flight at SIGTERM must not stay
 * open after its response (Fastify's forceCloseConnections: 'idle' only closes the connections
 * idle when close starts; the server answers `Connection: close` while closing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../src/demo/service.ts';
import { testEnv } from '../support/env.ts';

const ROOT = new URL('../../', import.meta.url);
const WORKERS = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves undefined after `ms` without keeping the test process alive (for Promise.race deadlines). */
const deadline = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref());

interface Probe {
  reusedSocket: boolean;
  finishedAt?: number;
  respondedAt?: number;
  status?: number;
  error?: string;
}

function getProbe(agent: http.Agent, port: number, path: string): { probe: Probe; done: Promise<Probe> } {
  const probe: Probe = { reusedSocket: false };
  const done = new Promise<Probe>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      probe.status = res.statusCode;
      res.resume();
      res.on('end', () => {
        probe.respondedAt = performance.now();
        resolve(probe);
      });
      res.on('error', (error) => {
        probe.error = error.message;
        resolve(probe);
      });
    });
    req.on('finish', () => {
      probe.finishedAt = performance.now();
      probe.reusedSocket = req.reusedSocket;
    });
    req.on('error', (error) => {
      probe.error = `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`;
      resolve(probe);
    });
    req.end();
  });
  return { probe, done };
}

interface Serve {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGKILLs it if still running. */
  kill(): Promise<void>;
}

async function startServe(env: Record<string, string>): Promise<Serve> {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/cli/serve.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const serve: Serve = {
    child,
    port,
    output: () => output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return serve;
    if (child.exitCode !== null || Date.now() > deadline) {
      await serve.kill();
      throw new Error(`serve did not become healthy (exit ${child.exitCode}): ${output}`);
    }
    await sleep(100);
  }
}

/**
 * POSTs a dev-token request with `Expect: 100-continue`; `accepted` resolves once the server has
 * parsed the headers (100 Continue), and the body is sent only when `sendBody()` is called.
 */
function heldRequest(port: number, agent: http.Agent | false) {
  const body = JSON.stringify({ userId: 'drain-user' });
  let accept!: () => void;
  const accepted = new Promise<void>((resolve) => {
    accept = resolve;
  });
  const req = http.request({
    host: '127.0.0.1',
    port,
    path: '/api/v1/dev/token',
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  const result = new Promise<{ status?: number; body: string; error?: string }>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('continue', () => accept());
    req.on('error', (error) => resolve({ body: '', error: error.message }));
  });
  req.flushHeaders();
  return { accepted, result, sendBody: () => req.end(body) };
}

describe('graceful shutdown of node src/cli/serve.ts', () => {
  const env = testEnv({ SECKILL_DEV_TOKENS: '1' }, 'shut');
  // A fresh deployment for each start: a restart on the same one is its own test below.
  const env2 = testEnv({ SECKILL_DEV_TOKENS: '1' }, 'shut2');
  const started: Serve[] = [];

  after(async () => {
    for (const serve of started) await serve.kill();
    await env.cleanup();
    await env2.cleanup();
  });

  test('SIGTERM drains accepted requests, then the process exits 0 within 30 s', async () => {
    const serve = await startServe(env.env);
    started.push(serve);
    const { port, child, exited } = serve;
    const output = serve.output;
    // /readyz answers 503 until the order consumer has joined its group: wait for that first, so
    // the warm-up below only sees a service that is ready.
    const readyDeadline = Date.now() + 60_000;
    while ((await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status).catch(() => 0)) !== 200) {
      assert.ok(Date.now() < readyDeadline, `/readyz never answered 200\n${output()}`);
      await sleep(100);
    }
    // Idle sockets are dropped once answered (see the header); live ones stay in use under load.
    const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
    const probes: Probe[] = [];
    let stop = false;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (!stop) {
        const { probe, done } = getProbe(agent, port, '/readyz');
        probes.push(probe);
        await done;
        if (probe.error) break;
      }
    });

    // Warm up: every worker's keep-alive socket is established and /readyz says ready.
    const warmDeadline = Date.now() + 30_000;
    while (probes.filter((p) => p.status === 200 && p.reusedSocket).length < WORKERS * 3) {
      assert.ok(Date.now() < warmDeadline, 'warm-up did not finish');
      assert.ok(!probes.some((p) => p.error || (p.status !== undefined && p.status !== 200)), JSON.stringify(probes));
      await sleep(20);
    }

    // The provably accepted request: headers parsed (100 Continue seen), body not sent yet.
    const held = heldRequest(port, false);
    await held.accepted;

    // SIGTERM while /readyz requests are in flight on accepted connections.
    const inFlightNow = () => probes.filter((p) => p.finishedAt !== undefined && p.reusedSocket && p.respondedAt === undefined && !p.error);
    const waitDeadline = Date.now() + 5000;
    while (inFlightNow().length < 2 && Date.now() < waitDeadline) await new Promise((r) => setImmediate(r));
    const killedAt = performance.now();
    assert.ok(child.kill('SIGTERM'));
    stop = true;

    await sleep(500); // the server is draining; the held request is still waiting for its body
    held.sendBody();
    const heldResult = await held.result;
    await Promise.all(workers);
    agent.destroy();
    const exit = await Promise.race([exited, deadline(35_000)]);

    // The held request was answered by its real handler, after SIGTERM.
    assert.equal(heldResult.error, undefined, `held request failed: ${heldResult.error}\n${output()}`);
    assert.equal(heldResult.status, 200, heldResult.body);
    assert.equal(typeof (JSON.parse(heldResult.body) as { token?: unknown }).token, 'string');

    // Every /readyz request sent before SIGTERM on an accepted connection got an HTTP answer.
    const sentBefore = probes.filter((p) => p.finishedAt !== undefined && p.finishedAt < killedAt && p.reusedSocket);
    const pendingAtKill = sentBefore.filter((p) => p.respondedAt === undefined || p.respondedAt > killedAt);
    assert.ok(pendingAtKill.length >= 1, `some /readyz requests were in flight at SIGTERM (${pendingAtKill.length})`);
    for (const p of sentBefore) {
      assert.equal(p.error, undefined, `a request sent before SIGTERM failed: ${JSON.stringify(p)}`);
      assert.ok(p.status === 200 || p.status === 503, `status ${p.status}`);
    }

    // And the process drained and exited 0 within 30 s.
    assert.ok(exit, `the process did not exit within 35 s\n${output()}`);
    assert.equal(exit.signal, null);
    assert.equal(exit.code, 0, output());
    assert.ok(exit.at - killedAt < 30_000, `exit took ${Math.round(exit.at - killedAt)} ms`);
  });

  test(
    'a keep-alive client whose request was in flight at SIGTERM does not hold the process open',
    async () => {
      const serve = await startServe(env2.env);
      started.push(serve);
      const agent = new http.Agent({ keepAlive: true });
      try {
        const held = heldRequest(serve.port, agent);
        await held.accepted;
        const killedAt = performance.now();
        serve.child.kill('SIGTERM');
        await sleep(200);
        held.sendBody();
        const result = await held.result;
        assert.equal(result.status, 200, result.error ?? result.body);
        // The client keeps its (now idle) keep-alive socket, as browsers and proxies do.
        const exit = await Promise.race([serve.exited, deadline(5000)]);
        assert.ok(exit, 'still running 5 s after SIGTERM: the idle keep-alive connection holds server.close()');
        assert.equal(exit.code, 0, serve.output());
        assert.ok(exit.at - killedAt < 5000);
      } finally {
        agent.destroy();
        await serve.kill();
      }
    },
  );

  // redis/ioredis#2037: on a restart the topics already exist, so startup reaches the first
  // SUBSCRIBE while the subscriber connection is still in its handshake; a ready-check INFO would
  // then be refused ("Connection in subscriber mode"): pubsub.ts sends its first SUBSCRIBE only
  // once the connection's ready check has passed.
  test(
    'serve starts again on an existing deployment (restart)',
    async () => {
      for (let i = 0; i < 2; i++) {
        const serve = await startServe(env.env);
        started.push(serve);
        serve.child.kill('SIGTERM');
        const exit = await serve.exited;
        assert.equal(exit.code, 0, serve.output());
      }
    },
  );
});
