/**
 * Reconciliation: makes Redis agree with MySQL for one activity, repairing in the safe direction,
 * and says what it changed. Four kinds of drift:
 *  1. a cancelled order whose units never came back to Redis (crash between the MySQL cancel and
 *     the restock): restocked now; the return marker keeps it idempotent against a late retry;
 *  2. a reservation in flight for longer than `staleAfterMs` (see resolveStale): settled when its
 *     order is in MySQL, released when MySQL refused it, and otherwise published to Kafka again,
 *     so every reservation ends as a MySQL row whatever the length of a Kafka outage; a reservation
 *     is never released without a row saying why (a 202 is never undone by an outage);
 *  3. (sharded activities) a steal stranded between its take and its give (a crash): after
 *     `transitAfterMs` the transfer is completed on the receiving shard (its marker makes that
 *     once-only; if that shard is not loaded the transfer is voided and the load recounts it);
 *  4. the counter itself: reloaded from MySQL minus in-flight reservations and held waitlist units
 *     (inventory.loadFromTruth, which holds every stock slot meanwhile), while the order
 *     pipeline is idle (see reconcile).
 */
import type { Db } from '../db/client.ts';
import { findOrderStates, listCancelledSince, toOrder } from '../db/repositories/orders.ts';
import type { Activity } from '../domain/activity.ts';
import { ANSWER_GRACE_SECONDS, reservationMessage } from '../domain/order.ts';
import type { Orders } from '../lifecycle/orders.ts';
import type { OrderPublisher } from '../purchase/order-publisher.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { confirm, listPending, listReservations, release, settle } from '../redis/reservations.ts';
import { allShardKeys, shardSegments } from '../redis/shards.ts';
import { remaining, wasReturned } from '../redis/stock.ts';
import { clearTransit, listTransit, stealGive } from '../redis/transfers.ts';
import type { Cancellation } from '../lifecycle/cancellation.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';

export interface ReconcileReport {
  activityId: string;
  before: { remaining: number };
  after: { remaining: number };
  repaired: boolean;
  /** Cancelled orders whose units were returned now. */
  restocked: string[];
  /** Reservations with no order row, published to Kafka again. */
  republished: string[];
  /** Reservations MySQL refused (a FAILED row) whose units the worker had not released yet. */
  released: string[];
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
  /** Publishes a reservation again when Kafka does not have it. */
  publisher: OrderPublisher;
  /** Where its owner finds a republished order while it is QUEUED (its process may have died before writing that). */
  orders?: Pick<Orders, 'rememberQueued'>;
  /** A reservation in flight this long is looked at (default 10 s; the worker settles within ms). */
  staleAfterMs?: number;
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
  const { db, redis, keys, inventory, cancellation, publisher } = deps;
  const log = deps.log.child({ component: 'reconcile' });
  const staleAfterMs = deps.staleAfterMs ?? 10_000;
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
    const rows = await listCancelledSince(db, activity.id, new Date(now() - cancelledWithinMs));
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

  async function pipelineIdle(): Promise<boolean> {
    try {
      return (await deps.orderPipelineIdle?.()) ?? true;
    } catch (error) {
      log.debug({ err: error }, 'order pipeline lag unknown; stale reservations are judged later');
      return false;
    }
  }

  /**
   * Reservations in flight for longer than `staleAfterMs`, checked against MySQL:
   *  - an order row that is not FAILED: the worker persisted it and its settle was lost; settle it;
   *  - a FAILED row: MySQL refused it and its release was lost; release it (the units go back,
   *    unless MySQL never had them: OUT_OF_STOCK);
   *  - no row, while the order pipeline has consumed everything published (so the message is not
   *    waiting in Kafka), or while its answer is still pending after `orphanAfterMs` (its API
   *    process died mid-publish): the message is rebuilt from the reservation and published again;
   *    the worker drops a duplicate by order id. Then a pending answer is confirmed: the order is on
   *    its way, and a replay of its request is told 202 with its id.
   * Releasing a reservation that has no row would undo a 202 (or, for a pending one, race a publish
   * that may yet land), so that never happens here: a Kafka outage of any length only delays orders.
   */
  async function resolveStale(activity: Pick<Activity, 'id' | 'segments' | 'shards' | 'priceCents'>) {
    const resolved = { republished: [] as string[], released: [] as string[] };
    const cutoff = now() - staleAfterMs;
    const stale = (await listReservations(redis, keys, activity.id, activity.shards)).filter((r) => r.reservedAtMs < cutoff);
    const orphanCutoff = now() - orphanAfterMs;
    const orphans = (await listPending(redis, keys, activity.id, activity.shards)).filter((p) => p.reservedAtMs < orphanCutoff);
    if (stale.length === 0 && orphans.length === 0) return resolved;
    const pending = new Set(orphans.map((p) => p.orderId));
    // Lag first, then MySQL: a message consumed in between is then seen in MySQL.
    const idle = await pipelineIdle();
    const rows = new Map((await findOrderStates(db, stale.map((r) => r.orderId))).map((r) => [r.id, r]));
    const persisted: Array<{ orderId: string; userId: string }> = [];
    const placement = { activityId: activity.id, segments: activity.segments, shards: activity.shards };
    for (const reservation of stale) {
      const row = rows.get(reservation.orderId);
      if (row && row.status !== 'FAILED') {
        persisted.push(reservation);
      } else if (row) {
        const returnStock = row.reason !== 'OUT_OF_STOCK';
        if (await release(redis, keys, { ...placement, ...reservation, returnStock, forgetAnswer: false })) resolved.released.push(reservation.orderId);
      } else if (idle || pending.has(reservation.orderId)) {
        const message = reservationMessage(reservation, activity, reservation.orderId, reservation.reservedAtMs);
        // Its id may have been answered 202 by a process that died before writing the QUEUED view:
        // GET /orders/{id} must not answer 404 for it until the worker writes its row.
        await deps.orders?.rememberQueued({
          orderId: reservation.orderId,
          activityId: activity.id,
          userId: reservation.userId,
          quantity: reservation.quantity,
          amountCents: reservation.quantity * activity.priceCents,
          ttlSeconds: ANSWER_GRACE_SECONDS,
        });
        if ((await publisher.publish(message)) === 'failed') continue;
        resolved.republished.push(reservation.orderId);
        if (pending.has(reservation.orderId)) await confirm(redis, keys, { ...placement, ...reservation });
      }
    }
    // An orphan whose reservation is gone was settled (its order exists; a release clears the mark
    // itself): only its answer is left to confirm, or buyers at the sold-out edge would hear
    // "busy" for as long as the mark stays.
    const inFlight = new Set(stale.map((r) => r.orderId));
    for (const orphan of orphans) {
      if (!inFlight.has(orphan.orderId)) await confirm(redis, keys, { ...placement, ...orphan });
    }
    await settle(redis, keys, activity.id, persisted, activity.shards);
    return resolved;
  }

  return {
    async reconcile(activity: Pick<Activity, 'id' | 'segments' | 'shards' | 'priceCents'>): Promise<ReconcileReport> {
      const before = (await remaining(redis, keys, activity.id, activity.shards)) ?? -1;
      const transfers = await completeTransfers(activity);
      const restocked = await restockMissing(activity);
      const { republished, released } = await resolveStale(activity);
      // The counter only while the order pipeline is idle. A worker killed between its Redis
      // settle and its COMMIT leaves a batch that is neither in flight in Redis nor in MySQL, only
      // in Kafka: a reload then would offer its units again, and the redelivered messages would
      // take them in MySQL as well (a 202 ending FAILED OUT_OF_STOCK). Once the group's lag is 0
      // the batch is in MySQL and the reload is exact; a missing counter is rebuilt meanwhile by
      // the sweeper and the purchase path, which wait for the pipeline themselves.
      const load = (await pipelineIdle()) ? await inventory.loadFromTruth(activity) : undefined;
      const after = load?.after ?? (await remaining(redis, keys, activity.id, activity.shards)) ?? -1;
      // Drift is judged on the counter the load replaced, read in the same script: `before` (read
      // above, for the report) also moves with every sale made meanwhile.
      const drift = load && load.before >= 0 ? Math.abs(load.before - after) : 0;
      // Units given back here: a sold-out flag set while they were held must drop everywhere.
      if (released.length > 0) await deps.soldOut?.announceReturned(activity.id);
      const report = {
        activityId: activity.id,
        before: { remaining: Math.max(0, before) },
        after: { remaining: Math.max(0, after) },
        repaired: drift > 0 || restocked.length > 0 || released.length > 0 || transfers.length > 0 || republished.length > 0,
        restocked,
        republished,
        released,
        transfers,
      };
      if (report.repaired) log.warn(report, 'reconciliation repaired drift');
      // A counter Redis never had (e.g. after a restart) is a reload, not drift.
      if (drift > 0) deps.metrics?.reconcileDriftUnits.inc(drift);
      if (restocked.length > 0) deps.metrics?.reconcileRepairedOrders.inc({ kind: 'restocked' }, restocked.length);
      if (republished.length > 0) deps.metrics?.reconcileRepairedOrders.inc({ kind: 'republished' }, republished.length);
      if (released.length > 0) deps.metrics?.reconcileRepairedOrders.inc({ kind: 'released' }, released.length);
      return report;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
