/**
 * activity_stock's CHECK constraints: MariaDB itself refuses any row where
 * available + locked + sold ≠ stock or a column is negative — the last guard of "never oversell".
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Connection, createConnection } from 'mysql2/promise';
import { migrate } from '../../src/db/migrate.ts';
import { testEnv } from '../support/env.ts';

/**
 * MariaDB answers a CHECK violation with errno 4025 (ER_CONSTRAINT_FAILED, "CONSTRAINT `x` failed
 * for ..."); mysql2 labels that errno with MySQL's name for 4025, so match the number, not `code`.
 * MySQL 8 would use 3819 (ER_CHECK_CONSTRAINT_VIOLATED).
 */
function isCheckViolation(error: unknown, constraint?: string): boolean {
  const { errno, message } = error as { errno?: number; message?: string };
  if (errno !== 4025 && errno !== 3819) return false;
  return constraint === undefined || (message ?? '').includes(constraint);
}

describe('activity_stock CHECK constraints', () => {
  const env = testEnv({}, 'chk');
  let conn: Connection;

  async function newActivity(): Promise<number> {
    const [commodity] = await conn.query("INSERT INTO commodities (name, price_cents) VALUES ('widget', 1000)");
    const commodityId = (commodity as { insertId: number }).insertId;
    const [activity] = await conn.query(
      `INSERT INTO activities (name, commodity_id, price_cents, start_at, end_at, limit_per_user, payment_timeout_seconds)
       VALUES ('sale', ?, 500, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, 1, 300)`,
      [commodityId],
    );
    return (activity as { insertId: number }).insertId;
  }

  async function row(activityId: number) {
    const [rows] = await conn.query('SELECT stock, available, locked, sold FROM activity_stock WHERE activity_id = ?', [activityId]);
    return (rows as Array<{ stock: number; available: number; locked: number; sold: number }>)[0];
  }

  before(async () => {
    await migrate(env.config.mysql.url);
    conn = await createConnection({ uri: env.config.mysql.url });
  });

  after(async () => {
    await conn?.end();
    await env.cleanup();
  });

  test('a balanced row is accepted', async () => {
    const id = await newActivity();
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available, locked, sold) VALUES (?, 10, 7, 2, 1)', [id]);
    assert.deepEqual({ ...(await row(id)) }, { stock: 10, available: 7, locked: 2, sold: 1 });
  });

  test('defaults (locked = sold = 0) with available = stock are accepted', async () => {
    const id = await newActivity();
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available) VALUES (?, 5, 5)', [id]);
    assert.deepEqual({ ...(await row(id)) }, { stock: 5, available: 5, locked: 0, sold: 0 });
  });

  const badInserts: Array<[string, [number, number, number, number], string]> = [
    ['sum above stock', [10, 8, 2, 1], 'stock_balanced'],
    ['sum below stock', [10, 5, 2, 1], 'stock_balanced'],
    ['negative available', [10, -1, 10, 1], 'stock_non_negative'],
    ['negative locked', [10, 11, -1, 0], 'stock_non_negative'],
    ['negative sold', [10, 11, 0, -1], 'stock_non_negative'],
    ['negative stock', [-1, 0, 0, -1], 'stock_non_negative'],
  ];
  for (const [label, [stock, available, locked, sold], constraint] of badInserts) {
    test(`an insert with ${label} is refused`, async () => {
      const id = await newActivity();
      await assert.rejects(
        conn.query('INSERT INTO activity_stock (activity_id, stock, available, locked, sold) VALUES (?, ?, ?, ?, ?)', [
          id,
          stock,
          available,
          locked,
          sold,
        ]),
        (error) => isCheckViolation(error, constraint) || assert.fail(`expected ${constraint} to fail, got ${String(error)}`),
      );
      assert.equal(await row(id), undefined);
    });
  }

  test('an insert without a matching activity is refused (foreign key)', async () => {
    await assert.rejects(
      conn.query('INSERT INTO activity_stock (activity_id, stock, available) VALUES (?, 1, 1)', [987654321]),
      (error) => (error as { code?: string }).code === 'ER_NO_REFERENCED_ROW_2' || assert.fail(String(error)),
    );
  });

  test('updates that unbalance the row or go negative are refused and change nothing', async () => {
    const id = await newActivity();
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available, locked, sold) VALUES (?, 3, 2, 1, 0)', [id]);
    const unbalancing = [
      'UPDATE activity_stock SET available = available - 1 WHERE activity_id = ?',
      'UPDATE activity_stock SET sold = sold + 1 WHERE activity_id = ?',
      'UPDATE activity_stock SET stock = stock + 1 WHERE activity_id = ?',
      'UPDATE activity_stock SET locked = locked - 2, available = available + 2 WHERE activity_id = ?',
      'UPDATE activity_stock SET available = available - 3, locked = locked + 3 WHERE activity_id = ?',
    ];
    for (const statement of unbalancing) {
      await assert.rejects(conn.query(statement, [id]), (error) => isCheckViolation(error) || assert.fail(`${statement}: ${String(error)}`));
      assert.deepEqual({ ...(await row(id)) }, { stock: 3, available: 2, locked: 1, sold: 0 }, statement);
    }
  });

  test('balanced updates are accepted: lock, sell, release', async () => {
    const id = await newActivity();
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available) VALUES (?, 3, 3)', [id]);
    await conn.query('UPDATE activity_stock SET available = available - 2, locked = locked + 2 WHERE activity_id = ?', [id]);
    await conn.query('UPDATE activity_stock SET locked = locked - 1, sold = sold + 1 WHERE activity_id = ?', [id]);
    await conn.query('UPDATE activity_stock SET locked = locked - 1, available = available + 1 WHERE activity_id = ?', [id]);
    assert.deepEqual({ ...(await row(id)) }, { stock: 3, available: 2, locked: 0, sold: 1 });
  });

  test('a conditional lock that would take more than is available fails; one that fits succeeds', async () => {
    const id = await newActivity();
    await conn.query('INSERT INTO activity_stock (activity_id, stock, available) VALUES (?, 2, 2)', [id]);
    // The CHECK refuses the write even when the application forgets its own guard ...
    await assert.rejects(
      conn.query('UPDATE activity_stock SET available = available - 3, locked = locked + 3 WHERE activity_id = ?', [id]),
      (error) => isCheckViolation(error) || assert.fail(String(error)),
    );
    // ... and the guarded form the service uses simply matches no row.
    const [miss] = await conn.query(
      'UPDATE activity_stock SET available = available - ?, locked = locked + ? WHERE activity_id = ? AND available >= ?',
      [3, 3, id, 3],
    );
    assert.equal((miss as { affectedRows: number }).affectedRows, 0);
    const [hit] = await conn.query(
      'UPDATE activity_stock SET available = available - ?, locked = locked + ? WHERE activity_id = ? AND available >= ?',
      [2, 2, id, 2],
    );
    assert.equal((hit as { affectedRows: number }).affectedRows, 1);
    assert.deepEqual({ ...(await row(id)) }, { stock: 2, available: 0, locked: 2, sold: 0 });
    await assert.rejects(
      conn.query('UPDATE activity_stock SET available = available - 1, locked = locked + 1 WHERE activity_id = ?', [id]),
      (error) => isCheckViolation(error) || assert.fail(String(error)),
    );
    assert.deepEqual({ ...(await row(id)) }, { stock: 2, available: 0, locked: 2, sold: 0 });
  });
});
