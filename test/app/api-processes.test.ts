/**
 * Several API processes per machine (SECKILL_API_PROCESSES): `node src/cli/serve.ts` with 2
 * processes shares one port (and one ops port); a crowd through it never oversells (the sold-out
 * flag and the gate are right across processes); /metrics and the console's live feed count every
 * process's requests; a child that is SIGKILLed is started again by itself; SIGTERM drains them all
 * and the primary exits 0. When every child refuses to start (Kafka away), the primary waits and
 * starts them again rather than exiting (fault campaign, long single seed 7008: it exited 13).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/demo/service.ts';
import { testEnv } from '../support/env.ts';
import { call, liveTickWhere, pool, promValue, token, waitFor } from '../support/http.ts';

const SERVE = fileURLToPath(new URL('../../src/cli/serve.ts', import.meta.url));
const env = testEnv({ SECKILL_API_PROCESSES: '2' }, 'procs');
let primary: ChildProcess | undefined;

after(async () => {
  primary?.kill('SIGKILL');
  await env.cleanup();
});

/** Child pids of `pid` (the forked API processes). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('two API processes on one port: right across processes, self-healing, clean stop', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // As the container runs it: the operators' endpoints on their own listener, shared by both processes.
  const opsPort = await freePort();
  const ops = `http://127.0.0.1:${opsPort}`;
  const { NODE_TEST_CONTEXT: _ignored, ...parentEnv } = process.env;
  primary = spawn(process.execPath, [SERVE], {
    env: { ...parentEnv, ...env.env, PORT: String(port), SECKILL_OPS_PORT: String(opsPort) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  primary.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-10_000);
  });
  const pid = primary.pid!;
  await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 120_000, () => `readyz (${stderr})`);
  await waitFor(() => childrenOf(pid).length === 2, 60_000, 'two API processes');

  const admin = `Bearer ${env.env.SECKILL_ADMIN_TOKEN}`;
  assert.equal((await fetch(`${url}/metrics`)).status, 404, 'the public port hides /metrics');
  const commodity = await call(ops, 'POST', '/api/v1/admin/commodities', { auth: admin, body: { name: 'Bottle', priceCents: 100 } });
  const created = await call(ops, 'POST', '/api/v1/admin/activities', {
    auth: admin,
    body: {
      name: 'Sale',
      commodityId: commodity.body.commodity.id,
      priceCents: 100,
      stock: 20,
      startAt: new Date(Date.now() - 60_000).toISOString(),
      endAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const activityId = created.body.activity.id;

  const buyers = 200;
  const replies = await pool(
    Array.from({ length: buyers }, (_, i) => async () => {
      for (let attempt = 0; ; attempt++) {
        const reply = await call(url, 'POST', `/api/v1/activities/${activityId}/purchase`, {
          auth: `Bearer ${token(`buyer-${i}`)}`,
          body: { requestId: 'r1' },
        });
        if (reply.status !== 503 || attempt >= 20) return reply;
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
    40,
  );
  const won = new Set(replies.filter((r) => r.status === 202).map((r) => r.body.orderId));
  assert.equal(won.size, 20, 'exactly the stock is sold, whichever process answered');
  for (const r of replies.filter((x) => x.status !== 202)) assert.equal(r.body.error?.code, 'SOLD_OUT', JSON.stringify(r.body));

  // One scrape counts both processes' purchases (aggregated by the primary).
  const metrics = await (await fetch(`${ops}/metrics`)).text();
  const purchaseCount = [...metrics.matchAll(/^seckill_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/activities\/:id\/purchase"[^}]*\} (\d+)/gm)]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0);
  assert.ok(purchaseCount >= buyers, `aggregated purchase requests ${purchaseCount} >= ${buyers}`);

  // The console's live feed, whichever process serves it, counts both processes' answers.
  const tick = await liveTickWhere(ops, activityId, (t) => t.processes === 2 && promValue(t.metrics, 'seckill_purchase_total{outcome="RESERVED"}') === 20);
  assert.equal(promValue(tick.metrics, 'seckill_purchase_total{outcome="SOLD_OUT"}'), replies.length - 20);
  assert.deepEqual([tick.stats.db.available + tick.stats.db.locked + tick.stats.db.sold, tick.stats.redis.remaining], [20, 0]);

  // A crashed API process is replaced without anyone's help.
  const [victim] = childrenOf(pid);
  assert.ok(victim);
  process.kill(victim, 'SIGKILL');
  await waitFor(() => childrenOf(pid).length === 2 && !childrenOf(pid).includes(victim), 60_000, 'the killed process replaced');
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 30_000, 'serving again');

  const children = childrenOf(pid);
  const exited = new Promise<number | null>((resolve) => primary!.once('exit', (code) => resolve(code)));
  primary.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 40_000))]);
  assert.equal(code, 0, `primary exit (${stderr})`);
  for (const child of children) assert.throws(() => process.kill(child, 0), 'no API process is left behind');
  primary = undefined;
});

test('API processes that cannot start are started again, however many die at once', async () => {
  // No broker listens there: every API process refuses to start, as while Kafka is away.
  const down = testEnv({ SECKILL_API_PROCESSES: '2', SECKILL_KAFKA_BROKERS: `127.0.0.1:${await freePort()}` }, 'procsdown');
  const { NODE_TEST_CONTEXT: _ignored, ...parentEnv } = process.env;
  const child = spawn(process.execPath, [SERVE], { env: { ...parentEnv, ...down.env, PORT: String(await freePort()) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(async () => ((stderr.match(/starting it again/g) ?? []).length >= 2 ? true : undefined), 60_000, () => `two restarts (${stderr})`);
    assert.equal(child.exitCode, null, `the primary is still running (${stderr})`);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGKILL');
    await down.cleanup();
  }
});
