/**
 * Crash safety: the API runs in-process (SECKILL_ROLES=api), the order worker as a real
 * child process (`node src/cli/serve.ts`, SECKILL_ROLES=worker). The worker is SIGKILLed while
 * orders stream in; a second worker picks up what was not committed. Every 202 order ends up in
 * MySQL exactly once, and the stock columns stay balanced.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';

const SERVE = fileURLToPath(new URL('../../src/cli/serve.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STOCK = 300;
const BUYERS = 400;

const children: ChildProcess[] = [];

interface Worker {
  child: ChildProcess;
  output(): string;
}

/** Spawns `node src/cli/serve.ts` as a worker and waits until its order worker has started. */
async function startWorker(env: Record<string, string>): Promise<Worker> {
  const worker = spawnWorker(env);
  // Ready once it logged "worker started" for the order worker (the child logs at info).
  const exitedEarly = await new Promise<boolean>((resolve) => {
    const timer = setInterval(() => {
      if (worker.output().includes('"task":"order-worker"')) done(false);
    }, 50);
    const done = (value: boolean) => {
      clearInterval(timer);
      resolve(value);
    };
    void exited(worker.child).then(() => done(true));
    setTimeout(() => done(false), 30_000);
  });
  if (exitedEarly) throw new Error(`worker exited at start: ${worker.output()}`);
  return worker;
}

function spawnWorker(env: Record<string, string>): Worker {
  // The child is a server, not a test: drop NODE_TEST_CONTEXT (set by `node --test`).
  const { NODE_TEST_CONTEXT: _ignored, ...parentEnv } = process.env;
  const child = spawn(process.execPath, [SERVE], {
    cwd: ROOT,
    env: { ...parentEnv, ...env, SECKILL_ROLES: 'worker', SECKILL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => tail };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('a worker SIGKILLed mid-stream loses and duplicates nothing', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_ROLES: 'api', SECKILL_MAX_INFLIGHT: '100000' }, 'crash');
  });
  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    await t?.close();
  });

  test('300 units, 400 buyers, kill -9 the worker after some orders persisted', async () => {
    const { activity } = await t.createSale({ stock: STOCK, segments: 4, limitPerUser: 1 });
    const db = t.app.infra.db;
    const rowCount = async () =>
      Number(
        (
          await db
            .selectFrom('orders')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('activity_id', '=', activity.id)
            .executeTakeFirstOrThrow()
        ).n,
      );

    const first = await startWorker(t.env.env);
    const accepted = new Map<string, string>();
    const statuses = new Map<number, number>();
    const buyOne = async (i: number) => {
      const reply = await t.buy(`buyer-${i}`, activity.id, `r-${i}`);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status === 202) accepted.set(reply.body.orderId, `buyer-${i}`);
    };
    // A first few, until the worker is up and persisting.
    for (let i = 0; i < 10; i++) await buyOne(i);
    await waitFor(async () => (await rowCount()) >= 10, 60_000, () => `the first worker to persist orders (exit ${first.child.exitCode}: ${first.output()})`);
    // The rest paced (two in flight, a pause each) so the worker persists them while they keep coming.
    const buying = pool(
      Array.from({ length: BUYERS - 10 }, (_, k) => async () => {
        await buyOne(k + 10);
        await new Promise((r) => setTimeout(r, 10));
      }),
      2,
    );

    await waitFor(async () => (await rowCount()) >= 60, 60_000, 'the first worker to persist 60 orders');
    first.child.kill('SIGKILL');
    await exited(first.child);
    const atKill = await rowCount();
    assert.ok(atKill < STOCK, `killed before all orders were persisted (${atKill})`);

    await buying;
    assert.deepEqual([...statuses.keys()].sort(), [202, 409], `statuses ${JSON.stringify([...statuses])}`);
    assert.equal(accepted.size, STOCK, 'every unit answered 202 exactly once');
    assert.equal(await rowCount(), atKill, 'nothing persisted while no worker ran');

    const second = await startWorker(t.env.env);
    await waitFor(
      async () => {
        const s = await t.stats(activity.id);
        return s.orders.QUEUED === 0 && (await rowCount()) >= accepted.size;
      },
      60_000,
      () => `the second worker to drain the queue (${second.output()})`,
    );

    const rows = await db.selectFrom('orders').select(['id', 'user_id', 'request_id', 'status']).where('activity_id', '=', activity.id).execute();
    assert.equal(rows.length, accepted.size, 'one row per 202');
    assert.equal(new Set(rows.map((r) => String(r.id))).size, rows.length, 'no duplicate order ids');
    assert.equal(new Set(rows.map((r) => r.user_id)).size, rows.length, 'no user has two orders');
    for (const row of rows) {
      assert.equal(accepted.get(String(row.id)), row.user_id, `row ${row.id} matches a 202`);
      assert.equal(row.status, 'PENDING_PAYMENT');
    }
    const stock = await db.selectFrom('activity_stock').selectAll().where('activity_id', '=', activity.id).executeTakeFirstOrThrow();
    assert.equal(stock.stock, STOCK);
    assert.equal(stock.available, 0);
    assert.equal(stock.locked, STOCK);
    assert.equal(stock.sold, 0);
    const s = await t.stats(activity.id);
    assert.equal(s.orders.PENDING_PAYMENT, STOCK);
    assert.equal(s.redis.remaining, 0);
    const quota = await db.selectFrom('user_quota').select('quantity').where('activity_id', '=', activity.id).execute();
    assert.equal(quota.reduce((n, q) => n + q.quantity, 0), STOCK);

    second.child.kill('SIGTERM');
    await exited(second.child);
    assert.equal(second.child.exitCode, 0, `graceful stop (${second.output()})`);
  });
});
