/**
 * Outbox → Kafka → consumers: every state change's event is relayed to `<prefix>.events`
 * and applied by the notification, loyalty-points and warehouse consumers. A relay "crash" after
 * sending but before marking (published_at reset) publishes everything again: the consumers' tables
 * still hold one row per event (apply-once by event id).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LifecycleTables } from '../../src/db/schema.ts';
import { createEventHandlers, type NotificationMessage } from '../../src/lifecycle/events/handlers.ts';
import type { OutboxEvent } from '../../src/domain/events.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, callback, pay } from './helpers.ts';

describe('outbox relay and idempotent consumers', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 'lcout');
  });
  after(async () => {
    await t?.close();
  });

  async function counts() {
    const db = t.app.infra.db.withTables<LifecycleTables>();
    const n = async (table: 'notifications' | 'loyalty_points' | 'warehouse_dispatches') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const pending = await t.app.infra.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('published_at', 'is', null)
      .executeTakeFirstOrThrow();
    const total = await t.app.infra.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return {
      outbox: Number(total.n),
      pending: Number(pending.n),
      notifications: await n('notifications'),
      points: await n('loyalty_points'),
      dispatches: await n('warehouse_dispatches'),
    };
  }

  test('every event applied once, also after the relay publishes everything again', async () => {
    const { activity } = await t.createSale({ stock: 5, priceCents: 1250 });
    const a = await buyPersisted(t, 'pam', activity.id);
    const b = await buyPersisted(t, 'quin', activity.id);
    await buyPersisted(t, 'ray', activity.id);
    const payment = await pay(t, 'pam', a.orderId);
    assert.equal((await callback(t, { paymentId: payment.paymentId, orderId: a.orderId, status: 'SUCCEEDED', amountCents: a.amountCents })).status, 200);
    assert.equal((await t.user('quin', 'POST', `/api/v1/orders/${b.orderId}/cancel`)).status, 200);

    // 3 created + 1 paid + 1 cancelled; points and dispatch only for the paid one.
    const expected = { outbox: 5, pending: 0, notifications: 5, points: 1, dispatches: 1 };
    await waitFor(async () => JSON.stringify(await counts()) === JSON.stringify(expected), 30_000, 'events relayed and applied');
    const dispatch = await t.app.infra.db.withTables<LifecycleTables>().selectFrom('warehouse_dispatches').selectAll().executeTakeFirstOrThrow();
    assert.equal(String(dispatch.order_id), a.orderId);
    const points = await t.app.infra.db.withTables<LifecycleTables>().selectFrom('loyalty_points').selectAll().executeTakeFirstOrThrow();
    assert.equal(Number(points.points), 12);

    // The relay "crashed" after sending, before marking: everything goes out again.
    await t.app.infra.db.updateTable('outbox').set({ published_at: null }).execute();
    await waitFor(async () => (await counts()).pending === 0, 10_000, 'republished');
    // A new event after the duplicates: once it is applied, the consumers have read past them.
    await buyPersisted(t, 'sue', activity.id);
    await waitFor(async () => (await counts()).notifications === 6, 20_000, 'the new event applied');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await counts(), { outbox: 6, pending: 0, notifications: 6, points: 1, dispatches: 1 });
  });

  test('handlers apply each event once (direct), and the sender is called once per new event', async () => {
    const sent: NotificationMessage[] = [];
    const handlers = createEventHandlers(t.app.infra.db, { name: 'test', send: async (m) => void sent.push(m) });
    const event: OutboxEvent = {
      eventId: '999999001',
      type: 'ORDER_PAID',
      orderId: '4242',
      payload: { orderId: '4242', activityId: '1', userId: 'zed', quantity: 1, amountCents: 5000 },
      createdAt: new Date().toISOString(),
    };
    const first = await Promise.all(handlers.map((h) => h.handle(event)));
    const second = await Promise.all(handlers.map((h) => h.handle(event)));
    assert.deepEqual(first, [true, true, true]);
    assert.deepEqual(second, [false, false, false]);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.userId, 'zed');
  });
});
