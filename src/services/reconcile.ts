/**
 * Reconciliation (issue #4): makes Redis agree with MySQL for one activity, repairing in the safe
 * direction, and says what it changed. Three kinds of drift:
 *  1. a cancelled order whose units never came back to Redis (crash between the MySQL cancel and
 *     the restock): restocked now — the marker keeps it idempotent against a late retry;
 *  2. a reservation older than `lostAfterMs` with no order in MySQL (its Kafka publish was lost):
 *     recorded FAILED (LOST) under the stock row lock, so a late delivery finds the id taken and
 *     is a no-op, then released; a reservation whose order exists is only settled. Only judged
 *     while the order pipeline has consumed everything published (group lag 0): during a Kafka or
 *     worker outage an old reservation is a message waiting, not a lost one (issue #10, fault 1);
 *     a pending answer its API process never confirmed (the process died mid-publish) is, after
 *     `orphanAfterMs`, confirmed if its order is in MySQL, else released with its answer forgotten
 *     once the pipeline is idle, so replays stop being told "retry" and never get a 202 for nothing;
 *  3. (sharded activities, issue #11) a steal stranded between its take and its give (a crash):
 *     after `transitAfterMs` the transfer is completed on the receiving shard (its marker makes
 *     that once-only; if that shard is not loaded the transfer is voided and the load recounts it);
 *  4. the counter itself: reloaded from MySQL minus in-flight reservations and held waitlist units
 *     (inventory.loadFromTruth, which holds the stock row lock meanwhile).
 */
import type { Db } from '../db/client.ts';
import { toOrder } from '../db/repositories/orders.ts';
import type { Activity } from '../domain/activity.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { wasReturned } from '../redis/lifecycle.ts';
import { allShardKeys, clearTransit, confirm, listPending, listReservations, listTransit, release, remaining, settle, shardSegments, stealGive } from '../redis/stock.ts';
import type { Cancellation } from './cancellation.ts';
import type { Inventory } from './inventory.ts';
import type { SoldOutFlags } from './sold-out.ts';
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
  /** Reservations whose API process died before publishing them: released, their answers forgotten. */
  unpublished: string[];
  /** Steals found stranded in transit and completed (or voided). */
  transfers: string[];
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
  /** A publish still unconfirmed after this long has no API process waiting on it (default 30 s). */
  orphanAfterMs?: number;
  metrics?: Metrics;
  /** True when the order workers have consumed every published reservation; absent → always. */
  orderPipelineIdle?: () => Promise<boolean>;
  /** Told when units came back, so instances holding a sold-out flag look again. */
  soldOut?: Pick<SoldOutFlags, 'announceReturned'>;
  /** A steal still in transit after this long was interrupted (default 10 s). */
  transitAfterMs?: number;
  /** Cancelled orders younger than this are checked (the return markers live 7 days). */
  cancelledWithinMs?: number;
  now?: () => number;
}

export function createReconciler(deps: ReconcileDeps) {
  const { db, redis, keys, inventory, cancellation } = deps;
  const log = deps.log.child({ component: 'reconcile' });
  const lostAfterMs = deps.lostAfterMs ?? 120_000;
  const orphanAfterMs = deps.orphanAfterMs ?? 30_000;
  const cancelledWithinMs = deps.cancelledWithinMs ?? 24 * 3600_000;
  const transitAfterMs = deps.transitAfterMs ?? 10_000;
  const now = deps.now ?? Date.now;

  /** Completes the steals that stopped between their take and their give; returns their ids. */
  async function completeTransfers(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<string[]> {
    if (activity.shards <= 1) return [];
    const cutoff = now() - transitAfterMs;
    const shardKeys = allShardKeys(keys, activity.id, activity.shards);
    const completed: string[] = [];
    for (const donor of shardKeys) {
      for (const transfer of await listTransit(redis, donor)) {
        if (transfer.takenAtMs >= cutoff) continue;
        const receiver = shardKeys[transfer.toShard];
        if (receiver) {
          await stealGive(redis, receiver, {
            transferId: transfer.transferId,
            units: transfer.units,
            segments: shardSegments(activity.segments, activity.shards),
            // A waitlist claim's unit ("w<orderId>") belonged to one user: void it, the load recounts it.
            void: transfer.transferId.startsWith('w'),
          });
        }
        await clearTransit(redis, donor, transfer.transferId);
        completed.push(transfer.transferId);
      }
    }
    if (completed.length > 0) log.warn({ activityId: activity.id, completed }, 'completed steals stranded in transit');
    return completed;
  }

  async function restockMissing(activity: Pick<Activity, 'id' | 'shards'>): Promise<string[]> {
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
      const returned = await wasReturned(
        redis,
        keys,
        activity.id,
        chunk.map((r) => ({ orderId: String(r.id), userId: r.user_id })),
        activity.shards,
      );
      const missing = chunk.filter((_, j) => !returned[j]);
      if (missing.length === 0) continue;
      await cancellation.returnUnits(missing.map(toOrder));
      restocked.push(...missing.map((r) => String(r.id)));
    }
    return restocked;
  }

  /**
   * A pending answer whose API process died mid-publish: nobody was told 202 (replays were told
   * "retry"), and whether Kafka has the message is unknown. Its order in MySQL proves it was
   * published: confirm the answer. No order while the pipeline has consumed everything published
   * proves it was not: release the units and forget the answer, so a retry starts afresh. Confirming
   * blindly would tell a replay 202 for an order reconciliation later records FAILED (LOST).
   * (A double fault escapes this: a 202 given on an unknown outcome whose confirm also failed, and
   * whose republish lands after this release, ends FAILED in MySQL, counted as refused_by_mysql.)
   */
  async function settleOrphans(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<string[]> {
    const cutoff = now() - orphanAfterMs;
    const orphans = (await listPending(redis, keys, activity.id, activity.shards)).filter((o) => o.reservedAtMs < cutoff);
    const released: string[] = [];
    if (orphans.length === 0) return released;
    // Lag first, then MySQL: a message consumed in between is then seen in MySQL.
    const idle = await pipelineIdle();
    const rows = await db.selectFrom('orders').select('id').where('id', 'in', orphans.map((o) => o.orderId)).execute();
    const persisted = new Set(rows.map((r) => String(r.id)));
    const quantities = idle ? new Map((await listReservations(redis, keys, activity.id, activity.shards)).map((r) => [r.orderId, r.quantity])) : new Map<string, number>();
    for (const orphan of orphans) {
      if (persisted.has(orphan.orderId)) {
        await confirm(redis, keys, { activityId: activity.id, ...orphan, shards: activity.shards });
      } else if (idle) {
        const quantity = quantities.get(orphan.orderId) ?? 0;
        const { orderId, userId, requestId } = orphan;
        const ids = { activityId: activity.id, orderId, userId, requestId, quantity, segments: activity.segments, shards: activity.shards };
        if (await release(redis, keys, { ...ids, returnStock: quantity > 0, forgetAnswer: true })) released.push(orderId);
      }
    }
    return released;
  }

  async function pipelineIdle(): Promise<boolean> {
    try {
      return (await deps.orderPipelineIdle?.()) ?? true;
    } catch (error) {
      log.debug({ err: error }, 'order pipeline lag unknown; lost reservations are judged later');
      return false;
    }
  }

  async function releaseLost(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<string[]> {
    const cutoff = now() - lostAfterMs;
    const old = (await listReservations(redis, keys, activity.id, activity.shards)).filter((r) => r.reservedAtMs < cutoff);
    if (old.length === 0 || !(await pipelineIdle())) return [];
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
    const persisted: Array<{ orderId: string; userId: string }> = [];
    for (const { reservation, row } of verdicts) {
      if (row && row.status !== 'FAILED') {
        persisted.push(reservation);
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
        shards: activity.shards,
        returnStock,
        forgetAnswer: false,
      });
      if (released && !row) {
        lostIds.push(reservation.orderId);
        deps.metrics?.guaranteeBreaches.inc({ kind: 'lost_reservation' });
      }
    }
    await settle(redis, keys, activity.id, persisted, activity.shards);
    return lostIds;
  }

  return {
    async reconcile(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<ReconcileReport> {
      const before = (await remaining(redis, keys, activity.id, activity.shards)) ?? -1;
      const transfers = await completeTransfers(activity);
      const restocked = await restockMissing(activity);
      const unpublished = await settleOrphans(activity);
      const lost = await releaseLost(activity);
      const { after } = await inventory.loadFromTruth(activity);
      // Units given back here: a sold-out flag set while they were held must drop everywhere.
      if (unpublished.length > 0 || lost.length > 0) await deps.soldOut?.announceReturned(activity.id);
      const report = {
        activityId: activity.id,
        before: { remaining: Math.max(0, before) },
        after: { remaining: after },
        repaired: before !== after || restocked.length > 0 || lost.length > 0 || transfers.length > 0 || unpublished.length > 0,
        restocked,
        lost,
        unpublished,
        transfers,
      };
      if (report.repaired) log.warn(report, 'reconciliation repaired drift');
      // A counter Redis never had (before = -1, e.g. after a restart) is a reload, not drift.
      if (before >= 0 && before !== after) deps.metrics?.reconcileDriftUnits.inc(Math.abs(before - after));
      if (restocked.length > 0) deps.metrics?.reconcileRepairedOrders.inc({ kind: 'restocked' }, restocked.length);
      if (lost.length > 0) deps.metrics?.reconcileRepairedOrders.inc({ kind: 'lost' }, lost.length);
      return report;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
