/**
 * The promise checker catches what it claims to: an oversell seeded straight into MySQL on a
 * throwaway database is reported as promise 1 violated, while the same activity before the seed
 * passes. Without this test a checker that always says "held" would let the demo pass forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Connection, createConnection } from 'mysql2/promise';
import { migrate } from '../../src/db/migrate.ts';
import { checkPromises, type PromiseInput } from '../../src/demo/promises.ts';
import { REDIS_URL, testEnv } from '../support/env.ts';

describe('demo promise checker', () => {
  const env = testEnv({}, 'dchk');
  let conn: Connection;
  let nextOrderId = 1_000_000n;

  async function activity(stock: number): Promise<string> {
    const [commodity] = await conn.query("INSERT INTO commodities (name, price_cents) VALUES ('widget', 1000)");
    const [act] = await conn.query(
      `INSERT INTO activities (name, commodity_id, price_cents, start_at, end_at, limit_per_user, payment_timeout_seconds)
       VALUES ('sale', ?, 500, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, 1, 300)`,
      [(commodity as { insertId: number }).insertId],
    );
    const id = String((act as { insertId: number }).insertId);
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available, locked, sold) VALUES (?, ?, ?, 0, 0)', [id, stock, stock]);
    return id;
  }

  /** Writes `n` PENDING_PAYMENT orders for distinct users; returns them as the 202s a client saw. */
  async function orders(activityId: string, n: number, opts: { lockStock: boolean }) {
    const accepted = new Map<string, { userId: string; requestId: string }>();
    for (let i = 0; i < n; i++) {
      const id = String(nextOrderId++);
      const userId = `u${activityId}_${nextOrderId}`;
      await conn.query(
        `INSERT INTO orders (id, activity_id, user_id, request_id, quantity, amount_cents, status, created_at, expires_at)
         VALUES (?, ?, ?, ?, 1, 500, 'PENDING_PAYMENT', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE)`,
        [id, activityId, userId, `r${i}`],
      );
      accepted.set(id, { userId, requestId: `r${i}` });
    }
    if (opts.lockStock) await conn.query('UPDATE activity_stock SET available = available - ?, locked = locked + ? WHERE activity_id = ?', [n, n, activityId]);
    return accepted;
  }

  const input = (activityId: string, accepted: PromiseInput['accepted']): PromiseInput => ({
    mysqlUrl: env.config.mysql.url,
    redisUrl: REDIS_URL,
    redisPrefix: env.config.redis.prefix,
    activityId,
    accepted,
    expectFullySold: true,
  });

  before(async () => {
    await migrate(env.config.mysql.url);
    conn = await createConnection({ uri: env.config.mysql.url });
  });
  after(async () => {
    await conn?.end();
    await env.cleanup();
  });

  test('a consistent sold-out activity holds promises 1-4', async () => {
    const id = await activity(10);
    const accepted = await orders(id, 10, { lockStock: true });
    const results = await checkPromises(input(id, accepted));
    for (const p of results.filter((r) => r.id <= 4)) assert.equal(p.held, true, `promise ${p.id}: ${p.violations.join('; ')}`);
    assert.equal(results.find((r) => r.id === 5)?.checked, false);
  });

  test('more orders than units (an oversell seeded into MySQL) violates promise 1', async () => {
    const id = await activity(10);
    const accepted = await orders(id, 10, { lockStock: true });
    // Two more buyers got a 202 and a PENDING_PAYMENT row although the stock row was exhausted.
    for (const [orderId, a] of await orders(id, 2, { lockStock: false })) accepted.set(orderId, a);
    const results = await checkPromises(input(id, accepted));
    const p1 = results.find((r) => r.id === 1)!;
    assert.equal(p1.held, false);
    assert.match(p1.violations.join('\n'), /12 units .* > stock 10/);
    assert.match(p1.violations.join('\n'), /12 distinct 202 order ids > 10 units/);
  });

  test('a stock row that no longer balances violates promise 1', async () => {
    const id = await activity(10);
    const accepted = await orders(id, 10, { lockStock: true });
    // Only a database without the CHECK constraints could hold this row; drop them to seed it.
    await conn.query('ALTER TABLE activity_stock DROP CONSTRAINT stock_balanced');
    await conn.query('UPDATE activity_stock SET sold = 2 WHERE activity_id = ?', [id]);
    const results = await checkPromises(input(id, accepted));
    const p1 = results.find((r) => r.id === 1)!;
    assert.equal(p1.held, false);
    assert.match(p1.violations.join('\n'), /available\+locked\+sold = 12 ≠ stock 10/);
  });

  test('a user over the limit, a lost 202 and an unsold unit are each reported', async () => {
    const id = await activity(10);
    const accepted = await orders(id, 8, { lockStock: true });
    const [first] = accepted.values();
    // Same user, second order: above limitPerUser = 1.
    await conn.query(
      `INSERT INTO orders (id, activity_id, user_id, request_id, quantity, amount_cents, status, created_at, expires_at)
       VALUES (?, ?, ?, 'again', 1, 500, 'PENDING_PAYMENT', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE)`,
      [String(nextOrderId++), id, first!.userId],
    );
    await conn.query('UPDATE activity_stock SET available = available - 1, locked = locked + 1 WHERE activity_id = ?', [id]);
    accepted.set('999999999', { userId: 'ghost', requestId: 'lost' });
    const results = await checkPromises(input(id, accepted));
    const held = Object.fromEntries(results.map((r) => [r.id, r.held]));
    assert.deepEqual(held, { 1: true, 2: false, 3: false, 4: false, 5: true });
  });
});
