/**
 * Redis unreachable: the service talks to a redis-server this test starts and stops
 * itself (never the shared one). Ratio 0 → purchases answer 503 BUSY; ratio 0.5 → about half of
 * 1,000 attempts are admitted straight to Kafka, MySQL still guarding stock and the per-user limit;
 * Redis back empty → stock re-preheated before the circuit closes, and Redis agrees with MySQL.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { count, createActivity, validRetryAfter } from './helpers.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A private, diskless redis-server child process. */
class OwnRedis {
  readonly port: number;
  private child: ChildProcess | undefined;
  constructor(port: number) {
    this.port = port;
  }
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await waitFor(async () => {
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        }
      }, 10_000, 'own redis-server up');
    } finally {
      probe.disconnect();
    }
  }
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
    this.child = undefined;
  }
}

async function mysqlCheck(t: TestApp, activityId: string, limitPerUser: number) {
  const conn = await createConnection({ uri: t.env.config.mysql.url });
  try {
    const [stockRows] = await conn.query('SELECT stock, available, locked, sold FROM activity_stock WHERE activity_id = ?', [activityId]);
    const stock = (stockRows as Array<{ stock: number; available: number; locked: number; sold: number }>)[0]!;
    const [users] = await conn.query(
      `SELECT user_id, SUM(quantity) AS units FROM orders WHERE activity_id = ? AND status IN ('PENDING_PAYMENT', 'PAID')
       GROUP BY user_id HAVING units > ?`,
      [activityId, limitPerUser],
    );
    const [statuses] = await conn.query('SELECT status, COUNT(*) AS n FROM orders WHERE activity_id = ? GROUP BY status', [activityId]);
    const byStatus = Object.fromEntries((statuses as Array<{ status: string; n: number }>).map((r) => [r.status, Number(r.n)]));
    return { stock, usersAboveLimit: (users as unknown[]).length, byStatus };
  } finally {
    await conn.end();
  }
}

describe('Redis unreachable', () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const o of opened.reverse()) await o.close().catch(() => {});
  });

  async function setup(ratio: string) {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    opened.push({ close: () => redis.stop() });
    const t = await startTestApp({ SECKILL_REDIS_URL: redis.url, SECKILL_DEGRADE_ADMIT_RATIO: ratio }, 'rdown');
    opened.push(t);
    return { redis, t };
  }

  /** Purchases until the breaker has noticed Redis is gone (a few failures open it). */
  async function untilOpen(t: TestApp, activityId: string) {
    await waitFor(async () => {
      const r = await t.buy('probe', activityId, `p${Date.now()}`);
      assert.notEqual(r.status, 500, JSON.stringify(r.body));
      return t.app.services.guard.breaker.state !== 'closed';
    }, 15_000, 'circuit open');
  }

  test('ratio 0: purchases answer 503 BUSY with Retry-After; reads and order lookups never 500', async () => {
    const { redis, t } = await setup('0');
    const activity = await createActivity(t, { stock: 50 });
    const won = await t.buy('early', activity.id, 'r1');
    assert.equal(won.status, 202);
    await redis.stop();
    await untilOpen(t, activity.id);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => t.buy(`u${i}`, activity.id, 'r1')));
    for (const r of replies) {
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'BUSY');
      assert.ok(validRetryAfter(r.headers.get('retry-after')));
    }
    const detail = await t.admin('GET', `/api/v1/activities/${activity.id}`);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    const order = await t.user('early', 'GET', `/api/v1/orders/${won.body.orderId}`);
    assert.ok(order.status === 200 || order.status === 404, `order lookup ${order.status}`);
  });

  test('ratio 0.5: ~half admitted straight to Kafka; MySQL never oversells nor exceeds the limit; Redis back empty → re-preheated', async () => {
    const { redis, t } = await setup('0.5');
    const STOCK = 300;
    const LIMIT = 2;
    const activity = await createActivity(t, { stock: STOCK, limitPerUser: LIMIT });
    await redis.stop();
    await untilOpen(t, activity.id);
    // 1,000 attempts: 200 users × 5 requests each (distinct requestIds).
    const attempts = Array.from({ length: 1000 }, (_, i) => () => t.buy(`buyer${i % 200}`, activity.id, `q${Math.floor(i / 200)}`));
    const replies = await pool(attempts, 50);
    const admitted = replies.filter((r) => r.status === 202);
    const busy = count(replies, (r) => r.status === 503);
    assert.equal(admitted.length + busy, 1000, JSON.stringify([...new Set(replies.map((r) => `${r.status}`))]));
    assert.ok(admitted.length >= 400 && admitted.length <= 600, `admitted ${admitted.length} of 1000 at ratio 0.5`);
    const ids = new Set(admitted.map((r) => r.body.orderId as string));
    assert.equal(ids.size, admitted.length, 'distinct order ids');

    // Redis comes back empty: the circuit closes only after the stock was re-loaded from MySQL.
    await redis.start();
    await waitFor(() => t.app.services.guard.breaker.state === 'closed', 20_000, 'circuit closed');
    const { redis: client, keys } = t.app.infra;
    assert.equal(await client.exists(keys.activity(activity.id).remaining), 1, 'stock re-preheated before closing');

    // The worker drains every admitted order: each is in MySQL, PENDING_PAYMENT or FAILED.
    const drained = await waitFor(async () => {
      const c = await mysqlCheck(t, activity.id, LIMIT);
      const total = (c.byStatus.PENDING_PAYMENT ?? 0) + (c.byStatus.FAILED ?? 0);
      return total >= admitted.length ? c : undefined;
    }, 40_000, 'worker drained');
    assert.ok(drained);
    const { stock, usersAboveLimit, byStatus } = drained;
    assert.equal(stock.available + stock.locked + stock.sold, STOCK);
    assert.ok(stock.available >= 0 && stock.locked >= 0);
    assert.equal(usersAboveLimit, 0, 'no user above limitPerUser in MySQL');
    assert.equal(byStatus.PENDING_PAYMENT, stock.locked);
    assert.ok((byStatus.PENDING_PAYMENT ?? 0) <= STOCK);
    assert.equal((byStatus.PENDING_PAYMENT ?? 0) + (byStatus.FAILED ?? 0), admitted.length, 'every 202 reached MySQL once');

    // After recovery Redis and MySQL agree: remaining = available − reservations still in flight.
    await waitFor(async () => {
      const stats = await t.stats(activity.id);
      const inFlight = await client.hlen(keys.activity(activity.id).reservations);
      return stats.redis.remaining === stats.db.available - inFlight;
    }, 10_000, 'Redis remaining == MySQL available − in-flight');

    // And the normal path works again.
    const again = await t.buy('newcomer', activity.id, 'n1');
    assert.ok(again.status === 202 || again.status === 409, JSON.stringify(again.body));
  });
});
