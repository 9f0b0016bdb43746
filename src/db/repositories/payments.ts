/**
 * The `payments` table: one payment per order (unique order_id), settled by the provider's callback
 * with a compare-and-set from PROCESSING, so a replayed or contradicting callback changes nothing.
 * Refunds are payments too: REFUND_REQUIRED until an operator marks them REFUNDED.
 */
import { sql } from 'kysely';
import type { Payment, PaymentStatus, Refund, RefundStatus } from '../../domain/payment.ts';
import type { Db } from '../client.ts';
import type { PaymentRow } from '../schema.ts';

const toPayment = (row: PaymentRow): Payment => ({
  paymentId: String(row.id),
  orderId: String(row.order_id),
  amountCents: Number(row.amount_cents),
  status: row.status,
});

export async function findPayment(db: Db, paymentId: string): Promise<Payment | undefined> {
  const row = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
  return row && toPayment(row);
}

export async function findPaymentOfOrder(db: Db, orderId: string): Promise<Payment | undefined> {
  const row = await db.selectFrom('payments').selectAll().where('order_id', '=', orderId).executeTakeFirst();
  return row && toPayment(row);
}

/** The payment, locked FOR UPDATE until the caller's transaction ends. */
export async function lockPayment(db: Db, paymentId: string): Promise<Payment | undefined> {
  const row = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).forUpdate().executeTakeFirst();
  return row && toPayment(row);
}

/** Opens a PROCESSING payment for the order unless it has one (unique order_id); true when this call did. */
export async function insertPayment(db: Db, payment: { paymentId: string; orderId: string; amountCents: number }): Promise<boolean> {
  const [inserted] = await db
    .insertInto('payments')
    .values({ id: payment.paymentId, order_id: payment.orderId, amount_cents: payment.amountCents, status: 'PROCESSING' })
    .ignore()
    .execute();
  return Number(inserted?.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** PROCESSING → `status` by compare-and-set: only the first callback settles a payment. */
export async function settlePayment(db: Db, paymentId: string, status: Exclude<PaymentStatus, 'PROCESSING'>): Promise<void> {
  await db.updateTable('payments').set({ status }).where('id', '=', paymentId).where('status', '=', 'PROCESSING').execute();
}

/** REFUND_REQUIRED → REFUNDED by compare-and-set; false when it was not owed a refund (any more). */
export async function markRefunded(db: Db, paymentId: string): Promise<boolean> {
  const moved = await db
    .updateTable('payments')
    .set({ status: 'REFUNDED' })
    .where('id', '=', paymentId)
    .where('status', '=', 'REFUND_REQUIRED')
    .executeTakeFirst();
  return Number(moved.numUpdatedRows) === 1;
}

const refundRows = (db: Db) =>
  db
    .selectFrom('payments as p')
    .innerJoin('orders as o', 'o.id', 'p.order_id')
    .select(['p.id', 'p.order_id', 'o.activity_id', 'o.user_id', 'p.amount_cents', 'p.status', 'p.created_at', 'p.updated_at']);

type RefundRowOf<S extends PaymentStatus> = Omit<Refund, 'status'> & { status: S };

function toRefund<S extends PaymentStatus>(row: {
  id: string;
  order_id: string;
  activity_id: string;
  user_id: string;
  amount_cents: number;
  status: S;
  created_at: Date;
  updated_at: Date;
}): RefundRowOf<S> {
  return {
    paymentId: String(row.id),
    orderId: String(row.order_id),
    activityId: String(row.activity_id),
    userId: row.user_id,
    amountCents: Number(row.amount_cents),
    status: row.status,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** One page of the payments with this refund status, oldest first (keyset: ids above `after`). */
export async function listRefunds(db: Db, query: { status: RefundStatus; limit: number; after?: string }): Promise<Refund[]> {
  let page = refundRows(db).where('p.status', '=', query.status);
  // A BIGINT literal, not a quoted string: MySQL compares a string with a BIGINT column as
  // doubles, which cannot tell 64-bit ids apart near the page boundary.
  if (query.after !== undefined) page = page.where('p.id', '>', sql<string>`${BigInt(query.after)}`);
  const rows = await page.orderBy('p.id').limit(query.limit).execute();
  return rows.map((row) => toRefund({ ...row, status: row.status as RefundStatus }));
}

/** The payment with its order's activity and user, whatever its status (refund or not). */
export async function findRefund(db: Db, paymentId: string): Promise<RefundRowOf<PaymentStatus> | undefined> {
  const row = await refundRows(db).where('p.id', '=', paymentId).executeTakeFirst();
  return row && toRefund(row);
}

/** How many payments have this status and their sum (every page, not one). */
export async function refundTotals(db: Db, status: RefundStatus): Promise<{ count: number; cents: number }> {
  const row = await db
    .selectFrom('payments')
    .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.coalesce(eb.fn.sum<string | number>('amount_cents'), sql<number>`0`).as('cents')])
    .where('status', '=', status)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), cents: Number(row.cents) };
}
