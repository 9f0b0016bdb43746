/**
 * A big sale through the whole service (HTTP → Redis → Kafka → the order worker → MySQL), its MySQL
 * stock split over slots: every unit ends in an order (none oversold, none lost), each slot stays
 * balanced, a cancellation returns its units to the slot they came from and back on sale, a payment
 * sells them in that slot, and a preheat after it all agrees with MySQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listSlots } from '../../src/db/repositories/stock.ts';
import { remaining } from '../../src/redis/stock.ts';
import { callback, pay } from '../lifecycle/helpers.ts';
import { pool, startTestApp, type TestApp, waitFor } from '../support/http.ts';

describe('a big sale on several stock slots, through the service', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 'slotsvc');
  });
  after(async () => {
    await t?.close();
  });

  test('4,000 units over 4 slots: sold exactly, cancelled back to their slot, paid in it', async () => {
    const STOCK = 4000;
    const { activity } = await t.createSale({ stock: STOCK, limitPerUser: 100, segments: 4 });
    const db = t.app.infra.db;
    assert.equal((await listSlots(db, activity.id)).length, 4);

    // 45 buyers × 100 units: 40 win (4,000 units), 5 hear SOLD_OUT.
    const replies = await pool(
      Array.from({ length: 45 }, (_, i) => () => t.buy(`big-${i}`, activity.id, 'r1', 100)),
      15,
    );
    const accepted = replies.filter((r) => r.status === 202);
    assert.equal(accepted.length, 40);
    for (const r of replies.filter((x) => x.status !== 202)) assert.equal(r.body.error.code, 'SOLD_OUT');

    const drained = await waitFor(
      async () => {
        const s = await t.stats(activity.id);
        return s.orders.QUEUED === 0 && s.orders.PENDING_PAYMENT === 40 ? s : undefined;
      },
      60_000,
      'every order persisted',
    );
    assert.deepEqual(drained.db, { available: 0, locked: STOCK, sold: 0 });
    assert.equal(drained.stock, STOCK);
    const slotOf = async (orderId: string) => (await db.selectFrom('orders').select('stock_slot').where('id', '=', orderId).executeTakeFirstOrThrow()).stock_slot;
    const lockedIn = async (slot: number) => (await listSlots(db, activity.id)).find((s) => s.slot === slot)!.locked;

    // A cancellation puts its 100 units back in its own slot, and on sale in Redis.
    const cancelledId = accepted[0]!.body.orderId as string;
    const slot = await slotOf(cancelledId);
    const before = await lockedIn(slot);
    const cancelled = await t.user('big-0', 'POST', `/api/v1/orders/${cancelledId}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(await lockedIn(slot), before - 100);
    const slots = await listSlots(db, activity.id);
    assert.equal(slots.reduce((n, s) => n + s.available, 0), 100);
    for (const s of slots) assert.equal(s.available + s.locked + s.sold, s.stock, `slot ${s.slot} balanced`);
    await waitFor(async () => (await remaining(t.app.infra.redis, t.app.infra.keys, activity.id)) === 100, 10_000, 'units back in Redis');

    // A payment sells the units in the order's slot.
    const paidId = accepted[1]!.body.orderId as string;
    const paidSlot = await slotOf(paidId);
    const payment = await pay(t, 'big-1', paidId);
    const paid = await callback(t, { paymentId: payment.paymentId, orderId: paidId, status: 'SUCCEEDED', amountCents: payment.amountCents });
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    assert.equal((await listSlots(db, activity.id)).find((s) => s.slot === paidSlot)!.sold, 100);

    // The returned units sell again, and a preheat agrees with MySQL.
    const rebuy = await t.buy('late-buyer', activity.id, 'r1', 100);
    assert.equal(rebuy.status, 202, JSON.stringify(rebuy.body));
    const s = await waitFor(
      async () => {
        const st = await t.stats(activity.id);
        return st.orders.QUEUED === 0 && st.orders.PENDING_PAYMENT === 39 ? st : undefined;
      },
      30_000,
      'the re-buy persisted',
    );
    assert.deepEqual(s.db, { available: 0, locked: STOCK - 100, sold: 100 });
    const preheat = await t.admin('POST', `/api/v1/admin/activities/${activity.id}/preheat`);
    assert.equal(preheat.status, 200);
    assert.equal(preheat.body.remaining, 0);
  });
});
