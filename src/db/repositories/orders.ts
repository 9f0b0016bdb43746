/** Orders in MySQL, and how a row becomes the API's order. */
import type { Order } from '../../domain/order.ts';
import type { Db } from '../client.ts';
import type { OrderRow } from '../schema.ts';

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

export async function findOrder(db: Db, orderId: string): Promise<Order | undefined> {
  const row = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
  return row && toOrder(row);
}

/** The user's latest order in the activity (ids are time-ordered). */
export async function findLatestOrder(db: Db, activityId: string, userId: string): Promise<Order | undefined> {
  const row = await db
    .selectFrom('orders')
    .selectAll()
    .where('user_id', '=', userId)
    .where('activity_id', '=', activityId)
    // A second id given to an already-ordered request is not the user's order (004).
    .where('duplicate_of', '=', '0')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toOrder(row);
}
