/**
 * Refunds owed: a payment that succeeded after its order was cancelled is data an
 * operator can act on — listed (with totals and keyset pages), marked REFUNDED once by
 * compare-and-set, and counted by the seckill_refunds_owed gauges.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, type Json, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { buyPersisted, callback, pay } from '../lifecycle/helpers.ts';

const REFUND_KEYS = ['activityId', 'amountCents', 'createdAt', 'orderId', 'paymentId', 'status', 'updatedAt', 'userId'];

/** The value of an unlabelled series in Prometheus text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('refunds owed', () => {
  let t: TestApp;
  let activity: Json;
  /** Paid too late (the buyer cancelled first): owed a refund. */
  const late: Array<{ paymentId: string; orderId: string; userId: string; amountCents: number }> = [];
  /** Paid in time: not owed anything. */
  let paid: Json;

  before(async () => {
    t = await startTestApp({}, 'rf');
    ({ activity } = await t.createSale({ stock: 3, priceCents: 1250 }));
    for (const userId of ['ann', 'bob']) {
      const order = await buyPersisted(t, userId, activity.id);
      const payment = await pay(t, userId, order.orderId);
      const cancelled = await t.user(userId, 'POST', `/api/v1/orders/${order.orderId}/cancel`);
      assert.equal(cancelled.status, 200);
      const res = await callback(t, { paymentId: payment.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents });
      assert.equal(res.status, 200);
      late.push({ paymentId: payment.paymentId, orderId: order.orderId, userId, amountCents: order.amountCents });
    }
    const order = await buyPersisted(t, 'cat', activity.id);
    paid = await pay(t, 'cat', order.orderId);
    assert.equal((await callback(t, { paymentId: paid.paymentId, orderId: order.orderId, status: 'SUCCEEDED', amountCents: order.amountCents })).status, 200);
    late.sort((a, b) => (BigInt(a.paymentId) < BigInt(b.paymentId) ? -1 : 1));
  });
  after(async () => t?.close());

  it('lists the refunds owed with the order, the buyer and the totals', async () => {
    const res = await t.admin('GET', '/api/v1/admin/refunds');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['count', 'refunds', 'totalCents']);
    assert.equal(res.body.count, 2);
    assert.equal(res.body.totalCents, 2500);
    assert.equal(res.body.refunds.length, 2);
    for (const [i, refund] of res.body.refunds.entries()) {
      assert.deepEqual(Object.keys(refund).sort(), REFUND_KEYS);
      assert.deepEqual(
        { paymentId: refund.paymentId, orderId: refund.orderId, userId: refund.userId, amountCents: refund.amountCents },
        late[i],
        'oldest payment first',
      );
      assert.equal(refund.activityId, activity.id);
      assert.equal(refund.status, 'REFUND_REQUIRED');
      assert.ok(!Number.isNaN(Date.parse(refund.createdAt)) && !Number.isNaN(Date.parse(refund.updatedAt)));
    }
  });

  it('pages by payment id; the totals cover every page', async () => {
    const first = await t.admin('GET', '/api/v1/admin/refunds?limit=1');
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.refunds.map((r: Json) => r.paymentId),
      [late[0]?.paymentId],
    );
    assert.equal(first.body.count, 2);
    const second = await t.admin('GET', `/api/v1/admin/refunds?limit=1&after=${first.body.refunds[0].paymentId}`);
    assert.deepEqual(
      second.body.refunds.map((r: Json) => r.paymentId),
      [late[1]?.paymentId],
    );
    const end = await t.admin('GET', `/api/v1/admin/refunds?after=${second.body.refunds[0].paymentId}`);
    assert.deepEqual(end.body.refunds, []);
    assert.equal(end.body.count, 2);
  });

  it('refuses bad queries and callers without the admin token', async () => {
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'status=PAID', 'after=007', 'after=x']) {
      const res = await t.admin('GET', `/api/v1/admin/refunds?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'INVALID_REQUEST', query);
    }
    const anonymous = await call(t.url, 'GET', '/api/v1/admin/refunds');
    assert.equal(anonymous.status, 401);
    const buyer = await t.user('ann', 'GET', '/api/v1/admin/refunds');
    assert.equal(buyer.status, 401);
    const mark = await t.user('ann', 'POST', `/api/v1/admin/refunds/${late[0]?.paymentId}/refunded`);
    assert.equal(mark.status, 401);
  });

  it('reports the refunds owed as gauges at scrape time', async () => {
    const metrics = await call(t.url, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(sample(metrics.body, 'seckill_refunds_owed'), 2);
    assert.equal(sample(metrics.body, 'seckill_refunds_owed_cents'), 2500);
  });

  it('marks a refund given, once, by compare-and-set; concurrent and repeated marks agree', async () => {
    const target = late[0];
    assert.ok(target);
    const path = `/api/v1/admin/refunds/${target.paymentId}/refunded`;
    const [a, b] = await Promise.all([t.admin('POST', path), t.admin('POST', path)]);
    for (const res of [a, b]) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body.refund).sort(), REFUND_KEYS);
      assert.equal(res.body.refund.status, 'REFUNDED');
      assert.equal(res.body.refund.paymentId, target.paymentId);
      assert.equal(res.body.refund.orderId, target.orderId);
    }
    const again = await t.admin('POST', path);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, a.body);

    const row = await t.app.infra.db.selectFrom('payments').select('status').where('id', '=', target.paymentId).executeTakeFirstOrThrow();
    assert.equal(row.status, 'REFUNDED');
    const owed = await t.admin('GET', '/api/v1/admin/refunds');
    assert.deepEqual(
      owed.body.refunds.map((r: Json) => r.paymentId),
      [late[1]?.paymentId],
    );
    assert.deepEqual([owed.body.count, owed.body.totalCents], [1, 1250]);
    const given = await t.admin('GET', '/api/v1/admin/refunds?status=REFUNDED');
    assert.deepEqual(
      given.body.refunds.map((r: Json) => [r.paymentId, r.status]),
      [[target.paymentId, 'REFUNDED']],
    );
    assert.deepEqual([given.body.count, given.body.totalCents], [1, 1250]);

    // The gauges follow within their cache age (a few seconds).
    await waitFor(
      async () => sample((await call(t.url, 'GET', '/metrics')).body, 'seckill_refunds_owed') === 1 || undefined,
      20_000,
      'seckill_refunds_owed drops to 1',
    );
  });

  it('refuses a payment that is not owed a refund (409) and an unknown one (404), changing nothing', async () => {
    const notOwed = await t.admin('POST', `/api/v1/admin/refunds/${paid.paymentId}/refunded`);
    assert.equal(notOwed.status, 409);
    assert.equal(notOwed.body.error.code, 'NOT_REFUNDABLE');
    const row = await t.app.infra.db.selectFrom('payments').select('status').where('id', '=', paid.paymentId).executeTakeFirstOrThrow();
    assert.equal(row.status, 'SUCCEEDED');

    const unknown = await t.admin('POST', '/api/v1/admin/refunds/999999999999/refunded');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
    const bad = await t.admin('POST', '/api/v1/admin/refunds/abc/refunded');
    assert.equal(bad.status, 400);
  });

  it('a replayed late callback does not re-open a refund already given', async () => {
    const target = late[0];
    assert.ok(target);
    const replay = await callback(t, { paymentId: target.paymentId, orderId: target.orderId, status: 'SUCCEEDED', amountCents: target.amountCents });
    assert.equal(replay.status, 200);
    const row = await t.app.infra.db.selectFrom('payments').select('status').where('id', '=', target.paymentId).executeTakeFirstOrThrow();
    assert.equal(row.status, 'REFUNDED');
  });
});
