/**
 * The `orders` table: the one place that builds order rows and reads or moves them. Status moves are
 * compare-and-set (`WHERE status = 'PENDING_PAYMENT'`), so of a payment and a timeout racing for the
 * same order exactly one wins, whatever the interleaving.
 */
import type { CancelReason, Order, OrderStatus, ReservationMessage, ReservationOutcome } from '../../domain/order.ts';
import type { Db } from '../client.ts';
import type { NewOrder, OrderRow } from '../schema.ts';

export function toOrder(row: OrderRow): Order {
  const order: Order = {
    orderId: String(row.id),
    activityId: String(row.activity_id),
    userId: row.user_id,
    quantity: row.quantity,
    amountCents: Number(row.amount_cents),
    status: row.status,
    createdAt: row.created_at.toISOString(),
  };
  if (row.reason) order.reason = row.reason;
  if (row.expires_at && row.status === 'PENDING_PAYMENT') order.expiresAt = row.expires_at.toISOString();
  return order;
}

/**
 * The row of a reservation's order; its id and (activity, user, requestId) make the write idempotent.
 * `stockSlot`: the activity_stock slot whose units an accepted order locked.
 */
export function orderRow(message: ReservationMessage, outcome: ReservationOutcome, stockSlot = 0): NewOrder {
  const row: NewOrder = {
    id: message.orderId,
    activity_id: message.activityId,
    user_id: message.userId,
    request_id: message.requestId,
    quantity: message.quantity,
    amount_cents: message.quantity * message.unitPriceCents,
    created_at: new Date(message.reservedAtMs),
    status: outcome.status,
    reason: outcome.status === 'FAILED' ? outcome.reason : null,
    expires_at: outcome.status === 'PENDING_PAYMENT' ? outcome.expiresAt : null,
    stock_slot: stockSlot,
  };
  if (outcome.status === 'FAILED' && outcome.duplicateOf !== undefined) row.duplicate_of = outcome.duplicateOf;
  return row;
}

export async function insertOrders(db: Db, rows: NewOrder[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('orders').values(rows).execute();
}

/** Writes the row unless the order id has one already (a dead letter redelivered). */
export async function insertOrderIfAbsent(db: Db, row: NewOrder): Promise<void> {
  await db.insertInto('orders').values(row).ignore().execute();
}

export async function findOrder(db: Db, orderId: string): Promise<Order | undefined> {
  const row = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
  return row && toOrder(row);
}

/** The row, locked FOR UPDATE until the caller's transaction ends. */
export async function lockOrder(db: Db, orderId: string): Promise<OrderRow | undefined> {
  return db.selectFrom('orders').selectAll().where('id', '=', orderId).forUpdate().executeTakeFirst();
}

/** The user's latest order in the activity (ids are time-ordered). */
export async function findLatestOrder(db: Db, activityId: string, userId: string): Promise<Order | undefined> {
  const row = await db
    .selectFrom('orders')
    .selectAll()
    .where('user_id', '=', userId)
    .where('activity_id', '=', activityId)
    // A second id given to an already-ordered request is not the user's order (migration 004).
    .where('duplicate_of', '=', '0')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toOrder(row);
}

/** The status (and reason) of each of these orders that has a row; ids without one are left out. */
export async function findOrderStates(db: Db, orderIds: string[]): Promise<Array<{ id: string; status: OrderRow['status']; reason: string | null }>> {
  if (orderIds.length === 0) return [];
  const rows = await db.selectFrom('orders').select(['id', 'status', 'reason']).where('id', 'in', orderIds).execute();
  return rows.map((r) => ({ id: String(r.id), status: r.status, reason: r.reason }));
}

/** How many of these order ids have a row (the rest are still QUEUED, in flight). */
export async function countOrdersWithRows(db: Db, orderIds: string[]): Promise<number> {
  let found = 0;
  // In chunks: one IN list per thousand ids keeps each statement small.
  for (let i = 0; i < orderIds.length; i += 1000) {
    const row = await db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('id', 'in', orderIds.slice(i, i + 1000))
      .executeTakeFirstOrThrow();
    found += Number(row.n);
  }
  return found;
}

/** The activity's orders per status (the rows only: QUEUED orders have none). */
export async function countOrdersByStatus(db: Db, activityId: string): Promise<Array<{ status: OrderStatus; count: number }>> {
  const rows = await db
    .selectFrom('orders')
    .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
    .where('activity_id', '=', activityId)
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.n) }));
}

/**
 * Every order a request of the activity became, in id order (the last one per user is the user's
 * latest), second ids of a request left out: what Redis must remember after it forgot the activity.
 */
export async function listRequestAnswers(db: Db, activityId: string): Promise<Array<{ userId: string; requestId: string; orderId: string }>> {
  return db
    .selectFrom('orders')
    .select(['user_id as userId', 'request_id as requestId', 'id as orderId'])
    .where('activity_id', '=', activityId)
    .where('duplicate_of', '=', '0')
    .orderBy('id')
    .execute();
}

/**
 * The rows already written for these order ids or request ids of the activity: a redelivered
 * message finds its own id, a second id of an ordered request finds the request.
 */
export async function findExistingRequests(
  db: Db,
  activityId: string,
  orderIds: string[],
  requestIds: string[],
): Promise<Array<{ id: string; userId: string; requestId: string }>> {
  const rows = await db
    .selectFrom('orders')
    .select(['id', 'user_id', 'request_id'])
    .where('activity_id', '=', activityId)
    .where((eb) => eb.or([eb('id', 'in', orderIds), eb('request_id', 'in', requestIds)]))
    .execute();
  return rows.map((r) => ({ id: String(r.id), userId: r.user_id, requestId: r.request_id }));
}

/**
 * Up to `limit` orders still PENDING_PAYMENT past their expiry, locked FOR UPDATE SKIP LOCKED on the
 * (status, expires_at) index: reapers in several processes split the work instead of queueing.
 */
export async function lockExpiredOrders(db: Db, now: Date, limit: number): Promise<OrderRow[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('status', '=', 'PENDING_PAYMENT')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** The activity's orders cancelled since `since` (whose units must be back in Redis). */
export async function listCancelledSince(db: Db, activityId: string, since: Date): Promise<OrderRow[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('activity_id', '=', activityId)
    .where('status', '=', 'CANCELLED')
    .where('updated_at', '>=', since)
    .execute();
}

/** PENDING_PAYMENT → CANCELLED by compare-and-set; false when the order had moved already. */
export async function markCancelled(db: Db, orderId: string, reason: CancelReason): Promise<boolean> {
  const moved = await db
    .updateTable('orders')
    .set({ status: 'CANCELLED', reason })
    .where('id', '=', orderId)
    .where('status', '=', 'PENDING_PAYMENT')
    .executeTakeFirst();
  return Number(moved.numUpdatedRows) === 1;
}

/** PENDING_PAYMENT → PAID by compare-and-set; false when the order was cancelled or expired first. */
export async function markPaid(db: Db, orderId: string): Promise<boolean> {
  const paid = await db
    .updateTable('orders')
    .set({ status: 'PAID', reason: null })
    .where('id', '=', orderId)
    .where('status', '=', 'PENDING_PAYMENT')
    .executeTakeFirst();
  return Number(paid.numUpdatedRows) === 1;
}
