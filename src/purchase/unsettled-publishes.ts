/**
 * The reservations this API process made whose Kafka publish is not acknowledged yet: the first
 * attempt in flight, or an unknown outcome being published again. Until Kafka has the message,
 * Redis holds the only record that their units are taken. If Redis loses it (restarted empty, a
 * failover that dropped the write), the rebuild from MySQL would count those units as free and
 * sell them a second time, and the message landing later would end FAILED OUT_OF_STOCK after its
 * buyer was told 202 (promise 1: never more 202s than units).
 *
 * So every LOST_RESERVATION_CHECK_MS the process looks for its own entries on their home shards.
 * One that is gone is written back (restoreLost-7.lua) unless its order has a row: holding the
 * stock lock, as the worker does between its settle and its commit, so a reservation the worker
 * settled is never brought back. A rebuild waits two checks before it counts (inventory.ts).
 */
import type { Db } from '../db/client.ts';
import { findOrderStates } from '../db/repositories/orders.ts';
import { lockStock } from '../db/repositories/stock.ts';
import { inTransaction } from '../db/tx.ts';
import type { Activity } from '../domain/activity.ts';
import { ANSWER_GRACE_SECONDS, type ReservationMessage } from '../domain/order.ts';
import type { BackgroundTask } from '../platform/background-task.ts';
import { isDependencyOutage } from '../platform/dependency-errors.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { periodicTask } from '../platform/periodic.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { LOST_RESERVATION_CHECK_MS, missingReservations, restoreLost } from '../redis/reservations.ts';

interface Unsettled {
  message: ReservationMessage;
  activity: Pick<Activity, 'id' | 'shards' | 'endAt'>;
  /** The buyer was told 202 (the publish outcome was unknown): a restored answer says so. */
  confirmed: boolean;
}

export interface UnsettledPublishesDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  log: Logger;
  metrics?: Pick<Metrics, 'reconcileRepairedOrders'>;
}

export function createUnsettledPublishes(deps: UnsettledPublishesDeps) {
  const { db, redis, keys, log } = deps;
  const entries = new Map<string, Unsettled>();

  /** Writes back this activity's lost entries whose orders have no row; forgets those that have one. */
  async function restoreActivity(activity: Unsettled['activity'], missing: Unsettled[]): Promise<void> {
    const outcomes = await inTransaction(db, async (trx) => {
      await lockStock(trx, activity.id);
      const rows = new Set((await findOrderStates(trx, missing.map((u) => u.message.orderId))).map((r) => r.id));
      const ttlSeconds = Math.max(60, Math.ceil((activity.endAt.getTime() - Date.now()) / 1000) + ANSWER_GRACE_SECONDS);
      const restored: Array<{ orderId: string; outcome: string }> = [];
      for (const { message } of missing) {
        if (rows.has(message.orderId)) {
          // Kafka had it after all (an unknown outcome that was written): the worker settled it.
          entries.delete(message.orderId);
          continue;
        }
        // Checked again right before the call: the publish may have ended while we waited for the
        // lock, and a failed one has been released (restoring it would take its unit back for ever).
        const entry = entries.get(message.orderId);
        if (!entry) continue;
        const outcome = await restoreLost(redis, keys, { ...message, activityId: activity.id, shards: activity.shards, ttlSeconds, confirmed: entry.confirmed });
        restored.push({ orderId: message.orderId, outcome });
      }
      return restored;
    });
    const written = outcomes.filter((o) => o.outcome !== 'present');
    if (written.length === 0) return;
    deps.metrics?.reconcileRepairedOrders.inc({ kind: 'restored' }, written.length);
    log.warn({ activityId: activity.id, restored: written }, 'Redis lost reservations whose publish was unacknowledged; written back');
  }

  async function check(): Promise<void> {
    if (entries.size === 0) return;
    const byActivity = Map.groupBy(entries.values(), (u) => u.activity.id);
    for (const list of byActivity.values()) {
      const activity = list[0]!.activity;
      const missing = await missingReservations(redis, keys, activity.id, activity.shards, list.map((u) => ({ ...u, orderId: u.message.orderId, userId: u.message.userId })));
      if (missing.length > 0) await restoreActivity(activity, missing);
    }
  }

  return {
    /** A reservation is about to be published (call before the publish). */
    add(message: ReservationMessage, activity: Unsettled['activity']): void {
      if (!message.degraded) entries.set(message.orderId, { message, activity, confirmed: false });
    },
    /** Its buyer was told 202 while the publish goes on (an unknown outcome). */
    confirmed(orderId: string): void {
      const entry = entries.get(orderId);
      if (entry) entry.confirmed = true;
    },
    /** Kafka acknowledged it, or it surely failed (call before releasing it). */
    settled(orderId: string): void {
      entries.delete(orderId);
    },
    get size(): number {
      return entries.size;
    },
    /** Runs the check (exported for tests; the task runs it every LOST_RESERVATION_CHECK_MS). */
    check,
    task(): BackgroundTask {
      // An outage is not a failure of this task, and it must not back off: right after Redis
      // comes back is when a lost entry has to be written back.
      return periodicTask('unsettled-publishes', LOST_RESERVATION_CHECK_MS, log, () =>
        check().catch((error: unknown) => {
          if (!isDependencyOutage(error)) throw error;
        }),
      );
    },
  };
}

export type UnsettledPublishes = ReturnType<typeof createUnsettledPublishes>;
