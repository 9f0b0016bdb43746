/**
 * MySQL is the last guard: when Redis lets through more than MySQL has, the surplus
 * orders turn FAILED (OUT_OF_STOCK), nothing is oversold, and Redis is corrected down to the
 * truth, not inflated. A user over the limit in MySQL gets FAILED (LIMIT_EXCEEDED) and the unit
 * goes back on sale in Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { remaining } from '../../src/redis/stock.ts';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';

describe('MySQL has fewer units than Redis', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 'short');
  });
  after(async () => {
    await t?.close();
  });

  const stockRow = (activityId: string) =>
    t.app.infra.db.selectFrom('activity_stock').selectAll().where('activity_id', '=', activityId).executeTakeFirstOrThrow();

  test('20 of 50 units taken away in MySQL: 20 orders FAILED OUT_OF_STOCK, no oversell, Redis corrected', async () => {
    const { activity } = await t.createSale({ stock: 50, segments: 2, limitPerUser: 1 });
    const db = t.app.infra.db;
    await db
      .updateTable('activity_stock')
      .set({ available: sql`available - 20`, stock: sql`stock - 20` })
      .where('activity_id', '=', activity.id)
      .execute();
    assert.equal(await remaining(t.app.infra.redis, t.app.infra.keys, activity.id), 50, 'Redis still believes 50');

    let maxLocked = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const row = await stockRow(activity.id);
        maxLocked = Math.max(maxLocked, row.locked);
        assert.equal(row.available + row.locked + row.sold, row.stock);
        assert.ok(row.available >= 0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const replies = await pool(
      Array.from({ length: 80 }, (_, i) => () => t.buy(`short-${i}`, activity.id, 'r1')),
      20,
    );
    const accepted = replies.filter((r) => r.status === 202).map((r) => r.body.orderId as string);
    assert.equal(accepted.length, 50, 'Redis let 50 through');
    for (const r of replies.filter((x) => x.status !== 202)) assert.equal(r.body.error.code, 'SOLD_OUT');

    const s = await waitFor(
      async () => {
        const st = await t.stats(activity.id);
        return st.orders.QUEUED === 0 && st.orders.PENDING_PAYMENT + st.orders.FAILED === 50 ? st : undefined;
      },
      30_000,
      'the queue to drain',
    );
    watching = false;
    await watcher;

    assert.equal(s.orders.PENDING_PAYMENT, 30);
    assert.equal(s.orders.FAILED, 20);
    assert.deepEqual(s.db, { available: 0, locked: 30, sold: 0 });
    assert.ok(maxLocked <= 30, `locked reached ${maxLocked}`);
    const row = await stockRow(activity.id);
    assert.equal(row.stock, 30);
    assert.equal(row.available + row.locked + row.sold, row.stock);

    const failed = await db.selectFrom('orders').select(['id', 'user_id', 'reason']).where('activity_id', '=', activity.id).where('status', '=', 'FAILED').execute();
    assert.equal(failed.length, 20);
    for (const f of failed) assert.equal(f.reason, 'OUT_OF_STOCK');
    const one = failed[0];
    assert.ok(one);
    const seen = await t.user(one.user_id, 'GET', `/api/v1/orders/${one.id}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.order.status, 'FAILED');
    assert.equal(seen.body.order.reason, 'OUT_OF_STOCK');

    // Redis was corrected down to MySQL's truth, not inflated by the failed orders' units.
    assert.equal(await remaining(t.app.infra.redis, t.app.infra.keys, activity.id), 0);
    assert.equal(s.redis.remaining, row.available);
    const late = await t.buy('late-buyer', activity.id, 'r1');
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'SOLD_OUT');
  });

  test('a user already at the limit in MySQL: FAILED LIMIT_EXCEEDED, and the unit goes back on sale', async () => {
    const { activity } = await t.createSale({ stock: 5, limitPerUser: 1 });
    const db = t.app.infra.db;
    await db.insertInto('user_quota').values({ activity_id: activity.id, user_id: 'greedy', quantity: 1 }).execute();

    const reply = await t.buy('greedy', activity.id, 'r1');
    assert.equal(reply.status, 202, 'Redis does not know about the MySQL quota');
    const orderId = reply.body.orderId as string;
    const order = await waitFor(
      async () => {
        const got = await t.user('greedy', 'GET', `/api/v1/orders/${orderId}`);
        return got.body.order?.status === 'FAILED' ? got.body.order : undefined;
      },
      30_000,
      'the order to fail',
    );
    assert.equal(order.reason, 'LIMIT_EXCEEDED');
    assert.equal(await remaining(t.app.infra.redis, t.app.infra.keys, activity.id), 5, 'the unit is back in Redis');
    const row = await stockRow(activity.id);
    assert.deepEqual({ available: row.available, locked: row.locked, sold: row.sold }, { available: 5, locked: 0, sold: 0 });
    const quota = await db.selectFrom('user_quota').select('quantity').where('activity_id', '=', activity.id).where('user_id', '=', 'greedy').executeTakeFirstOrThrow();
    assert.equal(quota.quantity, 1, 'the quota is untouched');

    // All five units still sell to others.
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => t.buy(`other-${i}`, activity.id, 'r1')));
    assert.deepEqual(
      others.map((o) => o.status),
      [202, 202, 202, 202, 202],
    );
    const s = await waitFor(
      async () => {
        const st = await t.stats(activity.id);
        return st.orders.QUEUED === 0 && st.orders.PENDING_PAYMENT === 5 ? st : undefined;
      },
      30_000,
      'the others to be persisted',
    );
    assert.deepEqual(s.db, { available: 0, locked: 5, sold: 0 });
    assert.equal(s.orders.FAILED, 1);
    assert.equal(s.redis.remaining, 0);
  });
});
