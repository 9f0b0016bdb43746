/**
 * Writes one activity's batch of reservations to MySQL in ONE transaction — the final guard:
 * the stock row is locked, each order is checked against MySQL's own `available` and the user's
 * quota (never above limitPerUser), accepted orders move units available → locked with a
 * conditional UPDATE that cannot oversell, and the rest are written FAILED with their reason.
 * Every write is keyed by the Snowflake order id and (activity, user, requestId), so a redelivered
 * batch finds its orders already there and changes nothing.
 */
import { sql } from 'kysely';
import type { Db } from '../db/client.ts';
import type { NewOrder } from '../db/schema.ts';
import type { FailReason, ReservationMessage } from '../domain/order.ts';

export type Verdict =
  | { kind: 'accepted'; message: ReservationMessage; expiresAt: Date }
  | { kind: 'failed'; message: ReservationMessage; reason: FailReason }
  /** Already in MySQL (redelivery): nothing written, only the Redis reservation to settle. */
  | { kind: 'duplicate'; message: ReservationMessage };

/**
 * `beforeCommit` runs inside the transaction, after every write, while the stock row is still
 * locked: the worker settles the reservations there, so a preheat (which reads `available` under
 * the same lock and subtracts unsettled reservations) never sees an order both in MySQL and still
 * in flight — which would leave Redis short of units nobody holds.
 */
export async function persistActivityBatch(
  db: Db,
  activityId: string,
  messages: ReservationMessage[],
  beforeCommit?: (verdicts: Verdict[]) => Promise<void>,
): Promise<Verdict[]> {
  return db.transaction().execute(async (trx) => {
    // Lock the stock row first: it serialises every writer of this activity's stock (workers,
    // cancellations, preheat), so the checks below stay true until commit.
    const stock = await trx
      .selectFrom('activity_stock')
      .select('available')
      .where('activity_id', '=', activityId)
      .forUpdate()
      .executeTakeFirst();
    const activity = await trx
      .selectFrom('activities')
      .select(['limit_per_user', 'payment_timeout_seconds'])
      .where('id', '=', activityId)
      .executeTakeFirst();

    const existing = await trx
      .selectFrom('orders')
      .select(['id', 'user_id', 'request_id'])
      .where('activity_id', '=', activityId)
      .where((eb) =>
        eb.or([
          eb('id', 'in', messages.map((m) => m.orderId)),
          eb('request_id', 'in', [...new Set(messages.map((m) => m.requestId))]),
        ]),
      )
      .execute();
    const existingIds = new Set(existing.map((r) => String(r.id)));
    const takenRequests = new Set(existing.map((r) => `${r.user_id}\u0000${r.request_id}`));

    const users = [...new Set(messages.map((m) => m.userId))];
    const quotaRows = await trx
      .selectFrom('user_quota')
      .select(['user_id', 'quantity'])
      .where('activity_id', '=', activityId)
      .where('user_id', 'in', users)
      .forUpdate()
      .execute();
    const quota = new Map(quotaRows.map((r) => [r.user_id, r.quantity]));
    const quotaBefore = new Map(quota);

    let available = stock?.available ?? 0;
    const verdicts: Verdict[] = [];
    const rows: NewOrder[] = [];
    const seenIds = new Set<string>();
    for (const message of messages) {
      const request = `${message.userId}\u0000${message.requestId}`;
      if (existingIds.has(message.orderId) || seenIds.has(message.orderId)) {
        verdicts.push({ kind: 'duplicate', message });
        continue;
      }
      seenIds.add(message.orderId);
      const createdAt = new Date(message.reservedAtMs);
      const base = {
        id: message.orderId,
        activity_id: activityId,
        user_id: message.userId,
        request_id: message.requestId,
        quantity: message.quantity,
        amount_cents: message.quantity * message.unitPriceCents,
        created_at: createdAt,
      };
      if (takenRequests.has(request)) {
        // The same request already became another order (its first id; Redis forgot the answer
        // and handed out a second). The second id still gets a row, FAILED, so no id a client
        // was given is lost (promise 4); `duplicate_of` keeps it clear of the unique request key.
        rows.push({ ...base, status: 'FAILED', reason: 'DUPLICATE_REQUEST', expires_at: null, duplicate_of: message.orderId });
        verdicts.push({ kind: 'failed', message, reason: 'DUPLICATE_REQUEST' });
        continue;
      }
      takenRequests.add(request);
      let reason: FailReason | undefined;
      const held = quota.get(message.userId) ?? 0;
      if (!activity || !stock) reason = 'ACTIVITY_NOT_FOUND';
      else if (held + message.quantity > activity.limit_per_user) reason = 'LIMIT_EXCEEDED';
      else if (available < message.quantity) reason = 'OUT_OF_STOCK';
      if (reason || !activity) {
        const failReason = reason ?? 'ACTIVITY_NOT_FOUND';
        rows.push({ ...base, status: 'FAILED', reason: failReason, expires_at: null });
        verdicts.push({ kind: 'failed', message, reason: failReason });
        continue;
      }
      available -= message.quantity;
      quota.set(message.userId, held + message.quantity);
      const expiresAt = new Date(createdAt.getTime() + activity.payment_timeout_seconds * 1000);
      rows.push({ ...base, status: 'PENDING_PAYMENT', reason: null, expires_at: expiresAt });
      verdicts.push({ kind: 'accepted', message, expiresAt });
    }

    if (rows.length > 0) await trx.insertInto('orders').values(rows).execute();

    const taken = (stock?.available ?? 0) - available;
    if (taken > 0) {
      // The conditional update is the guard of promise 1 even if the bookkeeping above were wrong.
      const updated = await trx
        .updateTable('activity_stock')
        .set({ available: sql`available - ${taken}`, locked: sql`locked + ${taken}` })
        .where('activity_id', '=', activityId)
        .where('available', '>=', taken)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) throw new Error(`stock of activity ${activityId} moved under the lock`);
    }

    const quotaChanges = [...quota].filter(([user, units]) => units !== (quotaBefore.get(user) ?? 0));
    if (quotaChanges.length > 0) {
      await trx
        .insertInto('user_quota')
        .values(quotaChanges.map(([user_id, quantity]) => ({ activity_id: activityId, user_id, quantity })))
        .onDuplicateKeyUpdate({ quantity: sql`VALUES(quantity)` })
        .execute();
    }

    const created = verdicts.filter((v) => v.kind === 'accepted');
    if (created.length > 0) {
      await trx
        .insertInto('outbox')
        .values(
          created.map(({ message, expiresAt }) => ({
            aggregate_id: message.orderId,
            event_type: 'ORDER_CREATED',
            payload: JSON.stringify({ ...message, expiresAt: expiresAt.toISOString() }),
          })),
        )
        .execute();
    }
    await beforeCommit?.(verdicts);
    return verdicts;
  });
}
