/**
 * Races of the lifecycle: 200 SUCCEEDED callbacks landing together with the payment
 * timeout (each order ends PAID xor CANCELLED + REFUND_REQUIRED, never both, and the stock adds
 * up), and two reapers on separate MySQL pools at once (each expired order cancelled exactly once).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createDb } from '../../src/db/client.ts';
import type { OutboxEventType } from '../../src/domain/events.ts';
import { createReaper } from '../../src/lifecycle/reaper.ts';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, callback, pay, sides } from './helpers.ts';

async function outboxPerOrder(t: TestApp, type: OutboxEventType): Promise<Map<string, number>> {
  const rows = await t.app.infra.db
    .selectFrom('outbox')
    .select(['aggregate_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_type', '=', type)
    .groupBy('aggregate_id')
    .execute();
  return new Map(rows.map((r) => [r.aggregate_id, Number(r.n)]));
}

describe('lifecycle races', () => {
  const apps: TestApp[] = [];
  after(async () => {
    for (const t of apps) await t.close();
  });

  test('200 orders: SUCCEEDED callback and timeout together → PAID xor CANCELLED+REFUND_REQUIRED', async () => {
    const t = await startTestApp({ SECKILL_REAPER_INTERVAL_MS: '50' }, 'lcrace');
    apps.push(t);
    const n = 200;
    const { activity } = await t.createSale({ stock: n, paymentTimeoutSeconds: 6, segments: 4 });
    const bought = await pool(
      Array.from({ length: n }, (_, i) => async () => {
        const order = await buyPersisted(t, `racer${i}`, activity.id);
        return { order, payment: await pay(t, `racer${i}`, order.orderId) };
      }),
      25,
    );
    const orders = bought.map((b) => b.order);
    const payments = bought.map((b) => b.payment);
    // Fire every callback at the median expiry: some land before the reaper, some after.
    const expiries = orders.map((o) => Date.parse(o.expiresAt)).sort((a, b) => a - b);
    const fireAt = expiries[Math.floor(n / 2)] as number;
    await new Promise((r) => setTimeout(r, Math.max(0, fireAt - Date.now())));
    const answers = await pool(
      orders.map((o, i) => () => callback(t, { paymentId: payments[i].paymentId, orderId: o.orderId, status: 'SUCCEEDED', amountCents: o.amountCents })),
      50,
    );
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    await waitFor(async () => (await sides(t, activity.id)).locked === 0, 15_000, 'every order settled');

    const db = t.app.infra.db;
    const rows = await db.selectFrom('orders').select(['id', 'status', 'reason']).where('activity_id', '=', activity.id).execute();
    const payRows = await db.selectFrom('payments').select(['order_id', 'status']).execute();
    const paymentOf = new Map(payRows.map((p) => [String(p.order_id), p.status]));
    const paidEvents = await outboxPerOrder(t, 'ORDER_PAID');
    const cancelEvents = await outboxPerOrder(t, 'ORDER_CANCELLED');
    const refundEvents = await outboxPerOrder(t, 'REFUND_REQUIRED');
    let paid = 0;
    let cancelled = 0;
    for (const row of rows) {
      const id = String(row.id);
      if (row.status === 'PAID') {
        paid++;
        assert.equal(paymentOf.get(id), 'SUCCEEDED');
        assert.equal(paidEvents.get(id), 1);
        assert.equal(cancelEvents.get(id), undefined);
      } else {
        assert.equal(row.status, 'CANCELLED');
        assert.equal(row.reason, 'PAYMENT_TIMEOUT');
        cancelled++;
        assert.equal(paymentOf.get(id), 'REFUND_REQUIRED');
        assert.equal(cancelEvents.get(id), 1);
        assert.equal(refundEvents.get(id), 1);
        assert.equal(paidEvents.get(id), undefined);
      }
    }
    assert.equal(paid + cancelled, n);
    // Redis gets the units back just after each cancel's commit.
    await waitFor(async () => (await sides(t, activity.id)).remaining === cancelled, 10_000, 'Redis has every released unit');
    assert.deepEqual(await sides(t, activity.id), { available: cancelled, locked: 0, sold: paid, remaining: cancelled });
    process.stdout.write(`# race: ${paid} paid, ${cancelled} cancelled+refund\n`);
  });

  test('two reapers on separate pools at once: every expired order cancelled exactly once', async () => {
    const t = await startTestApp({ SECKILL_REAPER_INTERVAL_MS: '3600000' }, 'lcreap');
    apps.push(t);
    const n = 60;
    const { activity } = await t.createSale({ stock: n, paymentTimeoutSeconds: 1, segments: 2 });
    const orders = await pool(Array.from({ length: n }, (_, i) => () => buyPersisted(t, `late${i}`, activity.id)), 20);
    const lastExpiry = Math.max(...orders.map((o) => Date.parse(o.expiresAt)));
    await new Promise((r) => setTimeout(r, Math.max(0, lastExpiry - Date.now() + 50)));

    const pools = [createDb(t.env.config.mysql.url), createDb(t.env.config.mysql.url)];
    try {
      const reapers = pools.map(({ db }) =>
        createReaper({ db, cancellation: t.app.services.cancellation, log: t.app.infra.log, intervalMs: 1000, batchSize: 7 }),
      );
      const counts = await Promise.all(reapers.map((r) => r.reapOnce()));
      assert.equal((counts[0] ?? 0) + (counts[1] ?? 0), n, `both reapers together cancelled each order once (${counts.join(' + ')})`);
    } finally {
      await Promise.all(pools.map(({ db }) => db.destroy()));
    }
    const cancelEvents = await outboxPerOrder(t, 'ORDER_CANCELLED');
    for (const o of orders) assert.equal(cancelEvents.get(o.orderId), 1, `order ${o.orderId} cancelled once`);
    assert.deepEqual(await sides(t, activity.id), { available: n, locked: 0, sold: 0, remaining: n });
  });
});
