/** Shared steps of the lifecycle tests: buy until persisted, sign callbacks, read both sides. */
import assert from 'node:assert/strict';
import type { OutboxEventType } from '../../src/domain/events.ts';
import { signBody } from '../../src/lifecycle/payment-callback.ts';
import { TEST_SECRETS } from '../support/env.ts';
import { call, type Json, type Reply, type TestApp, waitFor } from '../support/http.ts';

let seq = 0;
export const rid = (label = 'r') => `${label}-${Date.now().toString(36)}-${seq++}`;

/** Buys one unit and waits until the worker persisted it (PENDING_PAYMENT). */
export async function buyPersisted(t: TestApp, userId: string, activityId: string): Promise<Json> {
  const res = await t.buy(userId, activityId, rid(userId));
  assert.equal(res.status, 202, `purchase by ${userId}: ${res.status} ${JSON.stringify(res.body)}`);
  const orderId = res.body.orderId as string;
  return waitFor(
    async () => {
      const o = await t.user(userId, 'GET', `/api/v1/orders/${orderId}`);
      return o.status === 200 && o.body.order.status !== 'QUEUED' ? o.body.order : undefined;
    },
    20_000,
    `order ${orderId} persisted`,
  );
}

export async function orderOf(t: TestApp, userId: string, orderId: string): Promise<Json> {
  const o = await t.user(userId, 'GET', `/api/v1/orders/${orderId}`);
  assert.equal(o.status, 200);
  return o.body.order;
}

export function callback(t: TestApp, body: unknown, options: { secret?: string; signature?: string | null; raw?: string } = {}): Promise<Reply<Json>> {
  const raw = options.raw ?? JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (options.signature !== null) headers['x-seckill-signature'] = options.signature ?? signBody(options.secret ?? TEST_SECRETS.SECKILL_PAYMENT_SECRET, raw);
  return call(t.url, 'POST', '/api/v1/payments/callback', { rawBody: raw, headers });
}

export async function pay(t: TestApp, userId: string, orderId: string): Promise<Json> {
  const res = await t.user(userId, 'POST', `/api/v1/orders/${orderId}/pay`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.payment;
}

/** MySQL stock columns and Redis remaining, as the admin stats report them. */
export async function sides(t: TestApp, activityId: string): Promise<{ available: number; locked: number; sold: number; remaining: number }> {
  const s = await t.stats(activityId);
  assert.equal(s.db.available + s.db.locked + s.db.sold, s.stock, 'available + locked + sold = stock');
  return { ...s.db, remaining: s.redis.remaining };
}

export async function outboxCount(t: TestApp, orderId: string, type: OutboxEventType): Promise<number> {
  const row = await t.app.infra.db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('aggregate_id', '=', orderId)
    .where('event_type', '=', type)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
