/**
 * Payment and cancellation through HTTP on real services: pay + SUCCEEDED → PAID
 * (locked → sold), FAILED → CANCELLED/PAYMENT_FAILED, user cancel, payment timeout; each time the
 * stock columns and Redis are exactly right and the released unit can be bought again (also by the
 * same user). Signature bad/missing/replayed/wrong amount change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, callback, orderOf, outboxCount, pay, sides } from './helpers.ts';

describe('payment, cancellation and timeout', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ SECKILL_REAPER_INTERVAL_MS: '200' }, 'lcpay');
  });
  after(async () => {
    await t?.close();
  });

  test('pay + SUCCEEDED → PAID, locked → sold; replays and second pay change nothing', async () => {
    const { activity } = await t.createSale({ stock: 2 });
    const order = await buyPersisted(t, 'alice', activity.id);
    assert.equal(order.status, 'PENDING_PAYMENT');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 1, sold: 0, remaining: 1 });

    const payment = await pay(t, 'alice', order.orderId);
    assert.equal(payment.status, 'PROCESSING');
    assert.equal(payment.orderId, order.orderId);
    assert.equal(payment.amountCents, order.amountCents);
    assert.deepEqual(await pay(t, 'alice', order.orderId), payment, 'paying twice returns the same payment');
    assert.equal((await t.user('bob', 'POST', `/api/v1/orders/${order.orderId}/pay`)).status, 404, "someone else's order");

    const body = { paymentId: payment.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents };
    const ok = await callback(t, body);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { ok: true });
    assert.equal((await orderOf(t, 'alice', order.orderId)).status, 'PAID');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 1, remaining: 1 });

    // Replay (and a contradicting FAILED) → 200, nothing changes.
    assert.equal((await callback(t, body)).status, 200);
    assert.equal((await callback(t, { ...body, status: 'FAILED' })).status, 200);
    assert.equal((await orderOf(t, 'alice', order.orderId)).status, 'PAID');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 1, remaining: 1 });
    assert.equal(await outboxCount(t, order.orderId, 'ORDER_PAID'), 1);

    // PAID is neither payable nor cancellable.
    const again = await t.user('alice', 'POST', `/api/v1/orders/${order.orderId}/pay`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ORDER_NOT_PAYABLE');
    const cancel = await t.user('alice', 'POST', `/api/v1/orders/${order.orderId}/cancel`);
    assert.equal(cancel.status, 409);
    assert.equal(cancel.body.error.code, 'ORDER_NOT_CANCELLABLE');
  });

  test('signature: bad, missing, wrong secret, tampered body → 401; wrong amount → 400; unknown payment → 404', async () => {
    const { activity } = await t.createSale({ stock: 1 });
    const order = await buyPersisted(t, 'carol', activity.id);
    const payment = await pay(t, 'carol', order.orderId);
    const body = { paymentId: payment.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents };

    for (const [label, options] of [
      ['missing', { signature: null }],
      ['garbage', { signature: 'sha256=deadbeef' }],
      ['wrong secret', { secret: 'not-the-payment-secret' }],
    ] as const) {
      const res = await callback(t, body, options);
      assert.equal(res.status, 401, label);
      assert.equal(res.body.error.code, 'BAD_SIGNATURE', label);
    }
    // Signed over one body, sent with another (amount changed in transit).
    const { signBody } = await import('../../src/lifecycle/payment-callback.ts');
    const { TEST_SECRETS } = await import('../support/env.ts');
    const tampered = await callback(t, null, {
      raw: JSON.stringify({ ...body, amountCents: 1 }),
      signature: signBody(TEST_SECRETS.SECKILL_PAYMENT_SECRET, JSON.stringify(body)),
    });
    assert.equal(tampered.status, 401);

    const wrongAmount = await callback(t, { ...body, amountCents: order.amountCents + 1 });
    assert.equal(wrongAmount.status, 400);
    assert.equal(wrongAmount.body.error.code, 'INVALID_REQUEST');
    const unknown = await callback(t, { ...body, paymentId: '123456789' });
    assert.equal(unknown.status, 404);
    const malformed = await callback(t, { ...body, status: 'MAYBE' });
    assert.equal(malformed.status, 400);

    assert.equal((await orderOf(t, 'carol', order.orderId)).status, 'PENDING_PAYMENT', 'nothing changed');
    assert.deepEqual(await sides(t, activity.id), { available: 0, locked: 1, sold: 0, remaining: 0 });
    const paymentRow = await t.app.infra.db.selectFrom('payments').selectAll().where('id', '=', payment.paymentId).executeTakeFirstOrThrow();
    assert.equal(paymentRow.status, 'PROCESSING');
  });

  test('FAILED → CANCELLED/PAYMENT_FAILED; the unit is back in MySQL and Redis and the same user buys again', async () => {
    const { activity } = await t.createSale({ stock: 1 });
    const order = await buyPersisted(t, 'dave', activity.id);
    assert.equal((await t.buy('erin', activity.id, 'e1')).status, 409, 'sold out meanwhile');
    const payment = await pay(t, 'dave', order.orderId);
    const res = await callback(t, { paymentId: payment.paymentId, orderId: order.orderId, status: 'FAILED', amountCents: order.amountCents });
    assert.equal(res.status, 200);
    const cancelled = await orderOf(t, 'dave', order.orderId);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.reason, 'PAYMENT_FAILED');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 0, remaining: 1 });
    assert.equal(await outboxCount(t, order.orderId, 'ORDER_CANCELLED'), 1);

    const second = await buyPersisted(t, 'dave', activity.id);
    assert.equal(second.status, 'PENDING_PAYMENT', 'the same user may buy again');
    assert.deepEqual(await sides(t, activity.id), { available: 0, locked: 1, sold: 0, remaining: 0 });
  });

  test('user cancel → CANCELLED/USER_CANCELLED; cancelling again returns it unchanged; another user buys the unit', async () => {
    const { activity } = await t.createSale({ stock: 1 });
    const order = await buyPersisted(t, 'frank', activity.id);
    assert.equal((await t.user('grace', 'POST', `/api/v1/orders/${order.orderId}/cancel`)).status, 404, "someone else's order");
    const res = await t.user('frank', 'POST', `/api/v1/orders/${order.orderId}/cancel`);
    assert.equal(res.status, 200);
    assert.equal(res.body.order.status, 'CANCELLED');
    assert.equal(res.body.order.reason, 'USER_CANCELLED');
    const again = await t.user('frank', 'POST', `/api/v1/orders/${order.orderId}/cancel`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.order, res.body.order);
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 0, remaining: 1 });
    assert.equal((await t.user('frank', 'POST', `/api/v1/orders/${order.orderId}/pay`)).body.error.code, 'ORDER_NOT_PAYABLE');

    const other = await buyPersisted(t, 'grace', activity.id);
    assert.equal(other.status, 'PENDING_PAYMENT');
    assert.deepEqual(await sides(t, activity.id), { available: 0, locked: 1, sold: 0, remaining: 0 });
  });

  test('timeout → CANCELLED/PAYMENT_TIMEOUT by the reaper; a late SUCCEEDED is refunded, never resurrects it', async () => {
    const { activity } = await t.createSale({ stock: 1, paymentTimeoutSeconds: 1 });
    const order = await buyPersisted(t, 'heidi', activity.id);
    const payment = await pay(t, 'heidi', order.orderId);
    const expired = await waitFor(
      async () => {
        const o = await orderOf(t, 'heidi', order.orderId);
        return o.status === 'CANCELLED' ? o : undefined;
      },
      10_000,
      'the reaper cancels the order',
    );
    assert.equal(expired.reason, 'PAYMENT_TIMEOUT');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 0, remaining: 1 });

    const late = await callback(t, { paymentId: payment.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents });
    assert.equal(late.status, 200);
    assert.equal((await orderOf(t, 'heidi', order.orderId)).status, 'CANCELLED');
    const row = await t.app.infra.db.selectFrom('payments').selectAll().where('id', '=', payment.paymentId).executeTakeFirstOrThrow();
    assert.equal(row.status, 'REFUND_REQUIRED');
    assert.equal(await outboxCount(t, order.orderId, 'REFUND_REQUIRED'), 1);
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 0, sold: 0, remaining: 1 });

    const rebuy = await buyPersisted(t, 'heidi', activity.id);
    assert.equal(rebuy.status, 'PENDING_PAYMENT', 'the same user buys the released unit again');
  });

  test('the built-in simulator calls back by itself, signed, over HTTP', async () => {
    const sim = await startTestApp({ SECKILL_PAYMENT_SIMULATOR: '1', SECKILL_PAYMENT_SIMULATOR_SUCCESS_RATIO: '1', SECKILL_PAYMENT_SIMULATOR_DELAY_MS: '50' }, 'lcsim');
    try {
      const { activity } = await sim.createSale({ stock: 1 });
      const order = await buyPersisted(sim, 'ivan', activity.id);
      await pay(sim, 'ivan', order.orderId);
      await waitFor(async () => (await orderOf(sim, 'ivan', order.orderId)).status === 'PAID', 10_000, 'simulated payment');
      assert.deepEqual(await sides(sim, activity.id), { available: 0, locked: 0, sold: 1, remaining: 0 });
    } finally {
      await sim.close();
    }
  });
});
