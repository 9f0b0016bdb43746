/**
 * Payments (API.md "Payment provider"): `pay` opens one payment per order (unique order_id, so
 * paying twice returns the same one); the provider's signed callback settles it. The order moves
 * only by compare-and-set in MySQL, in the same transaction as the payment row and the outbox:
 * SUCCEEDED wins only over PENDING_PAYMENT (locked → sold); if the reaper or the user cancelled
 * first, the order stays CANCELLED and the payment is marked REFUND_REQUIRED — no unit is ever
 * sold twice. FAILED cancels the order (PAYMENT_FAILED) and its units go back on sale.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/client.ts';
import { toOrder } from '../db/repositories/orders.ts';
import type { PaymentStatus } from '../db/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Order } from '../domain/order.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Cancellation } from './cancellation.ts';
import { outboxPayload } from './cancellation.ts';
import type { Orders } from './orders.ts';
import type { IdGenerator } from './snowflake.ts';
import { retryTransaction } from './tx.ts';

export interface Payment {
  paymentId: string;
  orderId: string;
  amountCents: number;
  status: PaymentStatus;
}

export interface CallbackBody {
  paymentId: string;
  orderId: string;
  status: 'SUCCEEDED' | 'FAILED';
  amountCents: number;
}

export const SIGNATURE_HEADER = 'x-seckill-signature';

/** `sha256=<hex HMAC-SHA256(secret, raw body)>`, as the provider sends it. */
export function signBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of the provider's signature over the exact bytes received. */
export function verifySignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signBody(secret, rawBody));
  const given = Buffer.from(header.trim());
  // timingSafeEqual needs equal lengths; the length of a well-formed signature is public anyway.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Validates the callback JSON by hand (the raw body is read before any parsing, for the signature). */
export function parseCallbackBody(rawBody: string): CallbackBody {
  let value: Partial<Record<keyof CallbackBody, unknown>>;
  try {
    value = JSON.parse(rawBody) as typeof value;
  } catch {
    throw new AppError('INVALID_REQUEST', 'body is not JSON');
  }
  const id = (v: unknown) => (typeof v === 'string' && /^\d{1,20}$/.test(v) ? v : typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? String(v) : undefined);
  const paymentId = id(value?.paymentId);
  const orderId = id(value?.orderId);
  const { status, amountCents } = value ?? {};
  if (!paymentId || !orderId) throw new AppError('INVALID_REQUEST', 'paymentId and orderId must be decimal ids');
  if (status !== 'SUCCEEDED' && status !== 'FAILED') throw new AppError('INVALID_REQUEST', 'status must be SUCCEEDED or FAILED');
  if (typeof amountCents !== 'number' || !Number.isSafeInteger(amountCents) || amountCents < 0) {
    throw new AppError('INVALID_REQUEST', 'amountCents must be a non-negative integer');
  }
  return { paymentId, orderId, status, amountCents };
}

export type CallbackOutcome = 'paid' | 'cancelled' | 'refund-required' | 'failed' | 'replay';

export type RefundStatus = Extract<PaymentStatus, 'REFUND_REQUIRED' | 'REFUNDED'>;

/** A payment that succeeded after its order was cancelled: the money goes back to the buyer. */
export interface Refund {
  paymentId: string;
  orderId: string;
  activityId: string;
  userId: string;
  amountCents: number;
  status: RefundStatus;
  createdAt: string;
  updatedAt: string;
}

export interface RefundQuery {
  status: RefundStatus;
  limit: number;
  /** Keyset pagination: only payments with a larger id (the last `paymentId` of the previous page). */
  after?: string;
}

export interface RefundPage {
  refunds: Refund[];
  /** Over every payment with this status, not just this page. */
  count: number;
  totalCents: number;
}

export interface Payments {
  pay(userId: string, orderId: string): Promise<Payment>;
  callback(body: CallbackBody): Promise<CallbackOutcome>;
  get(paymentId: string): Promise<Payment | undefined>;
  /** Refunds owed (or given), oldest payment first. */
  listRefunds(query: RefundQuery): Promise<RefundPage>;
  /** REFUND_REQUIRED → REFUNDED by compare-and-set; again on a REFUNDED one returns it unchanged. */
  markRefunded(paymentId: string): Promise<Refund>;
  /** How many refunds are owed and their sum, for the gauges. */
  refundsOwed(): Promise<{ count: number; cents: number }>;
}

export interface PaymentsDeps {
  db: Db;
  ids: IdGenerator;
  orders: Orders;
  cancellation: Cancellation;
  log: Logger;
  metrics?: Pick<Metrics, 'paymentsInitiated' | 'paymentCallbacks'>;
}

export function createPayments(deps: PaymentsDeps): Payments {
  const { db, ids, orders, cancellation } = deps;
  const log = deps.log.child({ component: 'payments' });

  const toPayment = (row: { id: string; order_id: string; amount_cents: number; status: string }): Payment => ({
    paymentId: String(row.id),
    orderId: String(row.order_id),
    amountCents: Number(row.amount_cents),
    status: row.status as PaymentStatus,
  });

  const refundRows = () =>
    db
      .selectFrom('payments as p')
      .innerJoin('orders as o', 'o.id', 'p.order_id')
      .select(['p.id', 'p.order_id', 'o.activity_id', 'o.user_id', 'p.amount_cents', 'p.status', 'p.created_at', 'p.updated_at']);

  const toRefund = (row: {
    id: string;
    order_id: string;
    activity_id: string;
    user_id: string;
    amount_cents: number;
    status: string;
    created_at: Date;
    updated_at: Date;
  }): Refund => ({
    paymentId: String(row.id),
    orderId: String(row.order_id),
    activityId: String(row.activity_id),
    userId: row.user_id,
    amountCents: Number(row.amount_cents),
    status: row.status as RefundStatus,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  });

  async function totals(status: RefundStatus): Promise<{ count: number; cents: number }> {
    const row = await db
      .selectFrom('payments')
      .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.coalesce(eb.fn.sum<string | number>('amount_cents'), sql<number>`0`).as('cents')])
      .where('status', '=', status)
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), cents: Number(row.cents) };
  }

  async function byOrder(orderId: string): Promise<Payment | undefined> {
    const row = await db.selectFrom('payments').selectAll().where('order_id', '=', orderId).executeTakeFirst();
    return row && toPayment(row);
  }

  return {
    async pay(userId, orderId) {
      const order = await orders.get(userId, orderId); // 404 for someone else's order
      if (order.status !== 'PENDING_PAYMENT') throw new AppError('ORDER_NOT_PAYABLE', `order is ${order.status}`);
      const existing = await byOrder(orderId);
      if (existing) return existing;
      // Unique order_id: two concurrent pays insert one row; both answer with it.
      const [inserted] = await db
        .insertInto('payments')
        .values({ id: ids.next(), order_id: orderId, amount_cents: order.amountCents, status: 'PROCESSING' })
        .ignore()
        .execute();
      if (Number(inserted?.numInsertedOrUpdatedRows ?? 0) === 1) deps.metrics?.paymentsInitiated.inc();
      const payment = await byOrder(orderId);
      if (!payment) throw new Error(`payment of order ${orderId} vanished`);
      return payment;
    },

    get: async (paymentId) => {
      const row = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
      return row && toPayment(row);
    },

    async listRefunds({ status, limit, after }) {
      let page = refundRows().where('p.status', '=', status);
      // A BIGINT literal, not a quoted string: MySQL compares a string with a BIGINT column as
      // doubles, which cannot tell 64-bit ids apart near the page boundary.
      if (after !== undefined) page = page.where('p.id', '>', sql<string>`${BigInt(after)}`);
      const [rows, sum] = await Promise.all([page.orderBy('p.id').limit(limit).execute(), totals(status)]);
      return { refunds: rows.map(toRefund), count: sum.count, totalCents: sum.cents };
    },

    async markRefunded(paymentId) {
      // One compare-and-set: of two operators marking the same refund, one moves it and the other
      // finds it REFUNDED already and gets the same answer; nothing else ever becomes REFUNDED.
      const moved = await db
        .updateTable('payments')
        .set({ status: 'REFUNDED' })
        .where('id', '=', paymentId)
        .where('status', '=', 'REFUND_REQUIRED')
        .executeTakeFirst();
      const row = await refundRows().where('p.id', '=', paymentId).executeTakeFirst();
      if (!row) throw new AppError('NOT_FOUND', `payment ${paymentId} not found`);
      if (row.status !== 'REFUNDED') throw new AppError('NOT_REFUNDABLE', `payment ${paymentId} is ${row.status}, not owed a refund`);
      if (Number(moved.numUpdatedRows) === 1) log.info({ paymentId, orderId: String(row.order_id), amountCents: Number(row.amount_cents) }, 'refund marked as given');
      return toRefund(row);
    },

    refundsOwed: () => totals('REFUND_REQUIRED'),

    async callback(body) {
      const result = await retryTransaction(() =>
        db.transaction().execute(async (trx) => {
          // Lock order: payment → order → stock → quota, the same as every other writer's suffix.
          const payment = await trx.selectFrom('payments').selectAll().where('id', '=', body.paymentId).forUpdate().executeTakeFirst();
          if (!payment || String(payment.order_id) !== body.orderId) throw new AppError('NOT_FOUND', 'payment not found');
          if (Number(payment.amount_cents) !== body.amountCents) {
            throw new AppError('INVALID_REQUEST', `amountCents does not match the payment (${payment.amount_cents})`);
          }
          // Settled already: a replayed (or contradicting) callback changes nothing.
          if (payment.status !== 'PROCESSING') return { outcome: 'replay' as const, order: undefined as Order | undefined };

          const row = await trx.selectFrom('orders').selectAll().where('id', '=', body.orderId).forUpdate().executeTakeFirstOrThrow();
          const setPayment = (status: PaymentStatus) =>
            trx.updateTable('payments').set({ status }).where('id', '=', body.paymentId).where('status', '=', 'PROCESSING').execute();

          if (body.status === 'FAILED') {
            await setPayment('FAILED');
            const [cancelled] = await cancellation.cancelLocked(trx, [row], 'PAYMENT_FAILED');
            return cancelled ? { outcome: 'cancelled' as const, order: cancelled } : { outcome: 'failed' as const, order: undefined };
          }

          const paid = await trx
            .updateTable('orders')
            .set({ status: 'PAID', reason: null })
            .where('id', '=', body.orderId)
            .where('status', '=', 'PENDING_PAYMENT')
            .executeTakeFirst();
          if (Number(paid.numUpdatedRows) === 1) {
            const moved = await trx
              .updateTable('activity_stock')
              .set({ locked: sql`locked - ${row.quantity}`, sold: sql`sold + ${row.quantity}` })
              .where('activity_id', '=', row.activity_id)
              .where('locked', '>=', row.quantity)
              .executeTakeFirst();
            if (Number(moved.numUpdatedRows) !== 1) throw new Error(`activity ${row.activity_id} has fewer locked units than order ${row.id}`);
            await setPayment('SUCCEEDED');
            const order = toOrder({ ...row, status: 'PAID', reason: null });
            await trx
              .insertInto('outbox')
              .values({ aggregate_id: order.orderId, event_type: 'ORDER_PAID', payload: outboxPayload(order, { paymentId: body.paymentId }) })
              .execute();
            return { outcome: 'paid' as const, order };
          }
          // Lost the race (the order was cancelled or expired first): refund, never resurrect.
          await setPayment('REFUND_REQUIRED');
          await trx
            .insertInto('outbox')
            .values({
              aggregate_id: String(row.id),
              event_type: 'REFUND_REQUIRED',
              payload: outboxPayload(toOrder(row), { paymentId: body.paymentId, refundCents: body.amountCents }),
            })
            .execute();
          return { outcome: 'refund-required' as const, order: undefined };
        }),
      );
      if (result.outcome === 'cancelled' && result.order) await cancellation.returnUnits([result.order]);
      else if (result.outcome === 'paid' && result.order) {
        await orders.announce(result.order).catch((error: unknown) => log.warn({ err: error }, 'order announce failed'));
      } else if (result.outcome === 'refund-required') log.warn({ paymentId: body.paymentId, orderId: body.orderId }, 'payment arrived after cancellation; refund required');
      deps.metrics?.paymentCallbacks.inc({ status: body.status, result: result.outcome });
      return result.outcome;
    },
  };
}
