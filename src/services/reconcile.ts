/**
 * Reconciliation (issue #4): makes Redis agree with MySQL for one activity, repairing in the safe
 * direction, and says what it changed. Three kinds of drift:
 *  1. a cancelled order whose units never came back to Redis (crash between the MySQL cancel and
 *     the restock): restocked now — the marker keeps it idempotent against a late retry;
 *  2. a reservation older than `lostAfterMs` with no order in MySQL (its Kafka publish was lost):
 *     recorded FAILED (LOST) under the stock row lock, so a late delivery finds the id taken and
 *     is a no-op, then released; a reservation whose order exists is only settled;
 *  3. the counter itself: reloaded from MySQL minus in-flight reservations and held waitlist units
 *     (inventory.loadFromTruth, which holds the stock row lock meanwhile).
 */
import type { Db } from '../db/client.ts';
import { toOrder } from '../db/repositories/orders.ts';
import type { Activity } from '../domain/activity.ts';
import type { Logger } from '../log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { wasReturned } from '../redis/lifecycle.ts';
import { listReservations, release, remaining, settle } from '../redis/stock.ts';
import type { Cancellation } from './cancellation.ts';
import type { Inventory } from './inventory.ts';
import { retryTransaction } from './tx.ts';

export interface ReconcileReport {
  activityId: string;
  before: { remaining: number };
  after: { remaining: number };
  repaired: boolean;
  /** Cancelled orders whose units were returned now. */
  restocked: string[];
  /** Reservations recorded FAILED (LOST) and released. */
  lost: string[];
}

export interface ReconcileDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  inventory: Inventory;
  cancellation: Cancellation;
  log: Logger;
  /** A reservation this old without an order row is lost (default 2 minutes). */
  lostAfterMs?: number;
  /** Cancelled orders younger than this are checked (the return markers live 7 days). */
  cancelledWithinMs?: number;
  now?: () => number;
}

export function createReconciler(deps: ReconcileDeps) {
  const { db, redis, keys, inventory, cancellation } = deps;
  const log = deps.log.child({ component: 'reconcile' });
  const lostAfterMs = deps.lostAfterMs ?? 120_000;
  const cancelledWithinMs = deps.cancelledWithinMs ?? 24 * 3600_000;
  const now = deps.now ?? Date.now;

  async function restockMissing(activity: Pick<Activity, 'id'>): Promise<string[]> {
    const rows = await db
      .selectFrom('orders')
      .selectAll()
      .where('activity_id', '=', activity.id)
      .where('status', '=', 'CANCELLED')
      .where('updated_at', '>=', new Date(now() - cancelledWithinMs))
      .execute();
    const restocked: string[] = [];
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const returned = await wasReturned(redis, keys, activity.id, chunk.map((r) => String(r.id)));
      const missing = chunk.filter((_, j) => !returned[j]);
      if (missing.length === 0) continue;
      await cancellation.returnUnits(missing.map(toOrder));
      restocked.push(...missing.map((r) => String(r.id)));
    }
    return restocked;
  }

  async function releaseLost(activity: Pick<Activity, 'id' | 'segments'>): Promise<string[]> {
    const cutoff = now() - lostAfterMs;
    const old = (await listReservations(redis, keys, activity.id)).filter((r) => r.reservedAtMs < cutoff);
    if (old.length === 0) return [];
    const verdicts = await retryTransaction(() =>
      db.transaction().execute(async (trx) => {
        // The stock row lock serialises us with the order worker's batch for this activity.
        const stock = await trx.selectFrom('activity_stock').select('available').where('activity_id', '=', activity.id).forUpdate().executeTakeFirst();
        const activityRow = await trx.selectFrom('activities').select('price_cents').where('id', '=', activity.id).executeTakeFirst();
        if (!stock || !activityRow) return [];
        const existing = await trx
          .selectFrom('orders')
          .select(['id', 'status', 'reason'])
          .where('id', 'in', old.map((r) => r.orderId))
          .execute();
        const byId = new Map(existing.map((r) => [String(r.id), r]));
        const lost = old.filter((r) => !byId.has(r.orderId));
        if (lost.length > 0) {
          await trx
            .insertInto('orders')
            .values(
              lost.map((r) => ({
                id: r.orderId,
                activity_id: activity.id,
                user_id: r.userId,
                request_id: r.requestId,
                quantity: r.quantity,
                amount_cents: r.quantity * Number(activityRow.price_cents),
                status: 'FAILED' as const,
                reason: 'LOST',
                created_at: new Date(r.reservedAtMs),
                expires_at: null,
              })),
            )
            .ignore()
            .execute();
        }
        return old.map((r) => ({ reservation: r, row: byId.get(r.orderId) }));
      }),
    );
    const lostIds: string[] = [];
    const persisted: string[] = [];
    for (const { reservation, row } of verdicts) {
      if (row && row.status !== 'FAILED') {
        persisted.push(reservation.orderId);
        continue;
      }
      // LOST now, or FAILED by the worker before it could release: give the units back once.
      const returnStock = !(row && row.reason === 'OUT_OF_STOCK');
      const released = await release(redis, keys, {
        activityId: activity.id,
        userId: reservation.userId,
        requestId: reservation.requestId,
        orderId: reservation.orderId,
        quantity: reservation.quantity,
        segments: activity.segments,
        returnStock,
        forgetAnswer: false,
      });
      if (released && !row) lostIds.push(reservation.orderId);
    }
    await settle(redis, keys, activity.id, persisted);
    return lostIds;
  }

  return {
    async reconcile(activity: Pick<Activity, 'id' | 'segments'>): Promise<ReconcileReport> {
      const before = (await remaining(redis, keys, activity.id)) ?? -1;
      const restocked = await restockMissing(activity);
      const lost = await releaseLost(activity);
      const { after } = await inventory.loadFromTruth(activity);
      const report = {
        activityId: activity.id,
        before: { remaining: Math.max(0, before) },
        after: { remaining: after },
        repaired: before !== after || restocked.length > 0 || lost.length > 0,
        restocked,
        lost,
      };
      if (report.repaired) log.warn(report, 'reconciliation repaired drift');
      return report;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
