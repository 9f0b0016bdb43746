/**
 * What the side-effect consumers did, one table each, keyed by the outbox event id: a redelivered
 * event hits the primary key and writes nothing (INSERT IGNORE), so each effect happens once however
 * often Kafka delivers it. Each function answers whether this call wrote the row.
 */
import type { OutboxEventType } from '../../domain/events.ts';
import type { Db } from '../client.ts';
import type { LifecycleTables } from '../schema.ts';

const inserted = (result: { numInsertedOrUpdatedRows?: bigint }) => Number(result.numInsertedOrUpdatedRows ?? 0) === 1;

export async function recordNotification(
  db: Db,
  row: { eventId: string; orderId: string; userId: string; eventType: OutboxEventType; channel: string; message: string; sender: string },
): Promise<boolean> {
  const result = await db
    .withTables<LifecycleTables>()
    .insertInto('notifications')
    .values({
      event_id: row.eventId,
      order_id: row.orderId,
      user_id: row.userId,
      event_type: row.eventType,
      channel: row.channel,
      message: row.message,
      sender: row.sender,
    })
    .ignore()
    .executeTakeFirst();
  return inserted(result);
}

export async function awardPoints(db: Db, row: { eventId: string; orderId: string; userId: string; points: number }): Promise<boolean> {
  const result = await db
    .withTables<LifecycleTables>()
    .insertInto('loyalty_points')
    .values({ event_id: row.eventId, order_id: row.orderId, user_id: row.userId, points: row.points })
    .ignore()
    .executeTakeFirst();
  return inserted(result);
}

export async function requestDispatch(
  db: Db,
  row: { eventId: string; orderId: string; activityId: string; userId: string; quantity: number },
): Promise<boolean> {
  const result = await db
    .withTables<LifecycleTables>()
    .insertInto('warehouse_dispatches')
    .values({
      event_id: row.eventId,
      order_id: row.orderId,
      activity_id: row.activityId,
      user_id: row.userId,
      quantity: row.quantity,
      status: 'REQUESTED',
    })
    .ignore()
    .executeTakeFirst();
  return inserted(result);
}
