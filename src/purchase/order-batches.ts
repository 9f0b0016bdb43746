/**
 * What the order worker does with a batch it fetched: parse each message (an unreadable one is
 * dead-lettered), group by activity, and per activity run ONE MySQL transaction (order-persister.ts)
 * that settles the Redis reservations before it commits; then release the refused ones in Redis,
 * confirm pending answers, clamp Redis to MySQL where they disagreed, and announce each new status.
 * A batch that keeps failing as a whole is retried one message at a time, to isolate the culprit.
 */
import type { Db } from '../db/client.ts';
import { findOrderStates } from '../db/repositories/orders.ts';
import { orderOfReservation, parseReservationMessage, type ReservationMessage } from '../domain/order.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import { describe, type StringMessage } from '../kafka/client.ts';
import type { Orders } from '../lifecycle/orders.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { within } from '../platform/timeouts.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { confirmPersisted, release, restoreReservations, settle } from '../redis/reservations.ts';
import { persistActivityBatch, type Verdict } from './order-persister.ts';
import type { WithRetries } from './order-retry.ts';

/** Asking MySQL which orders a failed COMMIT did write: bounded, it is often MySQL that is away. */
const COMMIT_CHECK_TIMEOUT_MS = 2000;

export interface OrderBatchDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  activities: Pick<ActivityCache, 'get'>;
  inventory: Pick<Inventory, 'clampToTruth'>;
  orders: Pick<Orders, 'announce'>;
  soldOut: Pick<SoldOutFlags, 'announceReturned'>;
  metrics: Pick<Metrics, 'workerPersistDuration' | 'workerBatchSize' | 'ordersPersisted' | 'guaranteeBreaches'>;
  log: Logger;
  withRetries: WithRetries;
  deadLetter(raw: StringMessage, message: ReservationMessage | undefined, error: unknown): Promise<void>;
}

export function createOrderBatches(deps: OrderBatchDeps) {
  const { db, redis, keys, activities, inventory, orders, soldOut, metrics, log, withRetries, deadLetter } = deps;

  /** After the MySQL commit: release each refused reservation in Redis, announce statuses. */
  async function afterCommit(activityId: string, verdicts: Verdict[]): Promise<void> {
    const activity = await activities.get(activityId);
    const segments = activity?.segments ?? 1;
    const shards = activity?.shards ?? 1;
    let outOfStock = false;
    let returned = false;
    for (const verdict of verdicts) {
      if (verdict.kind !== 'failed') continue;
      const { message } = verdict;
      // A unit MySQL never had must not reappear in Redis; a unit refused for the user's quota
      // (or a duplicate request's second id) is real and goes back on sale.
      const returnStock = verdict.reason !== 'OUT_OF_STOCK';
      outOfStock ||= !returnStock;
      const released = await release(redis, keys, { ...message, segments, shards, returnStock, forgetAnswer: false });
      returned ||= released && returnStock;
    }
    if (returned) await soldOut.announceReturned(activityId);
    const persisted = verdicts.filter((v) => v.kind === 'accepted' || v.kind === 'duplicate').map((v) => v.message);
    if (persisted.length > 0) await confirmPersisted(redis, keys, activityId, persisted, shards);
    // Redis let through more than MySQL had (drift, or degraded admission): clamp it to the truth.
    // Degraded admissions (Redis was down) took MySQL units Redis never counted: re-load it too.
    const degraded = verdicts.some((v) => v.message.degraded === true);
    if ((outOfStock || degraded) && activity) await inventory.clampToTruth(activity);
    for (const verdict of verdicts) {
      if (verdict.kind === 'accepted') await orders.announce(orderOfReservation(verdict.message, { status: 'PENDING_PAYMENT', expiresAt: verdict.expiresAt }));
      else if (verdict.kind === 'failed') await orders.announce(orderOfReservation(verdict.message, { status: 'FAILED', reason: verdict.reason }));
    }
  }

  async function persistGroup(activityId: string, messages: ReservationMessage[]): Promise<Verdict[]> {
    let settled: ReservationMessage[] = [];
    const startedAt = performance.now();
    const shards = (await activities.get(activityId))?.shards ?? 1;
    const verdicts = await persistActivityBatch(db, activityId, messages, async (v) => {
      settled = v.filter((x) => x.kind === 'accepted' || x.kind === 'duplicate').map((x) => x.message);
      await settle(redis, keys, activityId, settled, shards);
    }).catch(async (error: unknown) => {
      // Settled, then the transaction failed. Orders it did not commit must be in flight again, or
      // a preheat would sell their units a second time while the redelivered messages take them
      // too. But a connection dropped during COMMIT leaves its outcome unknown, and an order that
      // is in MySQL must not be in flight as well: a reload would count its units twice and offer
      // too few, and buyers would hear SOLD_OUT while MySQL still had units. So ask MySQL which
      // are there (bounded); if it cannot say, put them all back (reconciliation repairs that).
      const inMysql = await within(findOrderStates(db, settled.map((m) => m.orderId)), COMMIT_CHECK_TIMEOUT_MS, () => new Error('timeout'))
        .then((found) => new Set(found.map((o) => o.id)))
        .catch(() => new Set<string>());
      const notCommitted = settled.filter((m) => !inMysql.has(m.orderId));
      await restoreReservations(redis, keys, activityId, notCommitted, shards).catch((restoreError: unknown) =>
        log.error({ err: describe(restoreError), activityId }, 'could not restore settled reservations; reconciliation will repair'),
      );
      throw error;
    });
    metrics.workerPersistDuration.observe((performance.now() - startedAt) / 1000);
    metrics.workerBatchSize.observe(messages.length);
    for (const v of verdicts) {
      if (v.kind === 'accepted') metrics.ordersPersisted.inc({ status: 'PENDING_PAYMENT' });
      if (v.kind !== 'failed') continue;
      metrics.ordersPersisted.inc({ status: 'FAILED' });
      if (v.reason === 'DUPLICATE_REQUEST') {
        // Visible, not silent: the client holding this second id sees it FAILED.
        metrics.guaranteeBreaches.inc({ kind: 'duplicate_request' });
        log.warn({ orderId: v.message.orderId, userId: v.message.userId, requestId: v.message.requestId }, 'a request was given two order ids (Redis forgot its answer); the second is FAILED');
      } else if (!v.message.degraded) {
        // The gate said yes (202) and the truth said no: Redis held more stock or a lower count
        // than MySQL, e.g. a reservation lost in an asynchronous-replication failover. Degraded
        // admissions are excluded: no gate checked them, so a refusal is their expected outcome.
        metrics.guaranteeBreaches.inc({ kind: 'refused_by_mysql' });
        log.warn({ orderId: v.message.orderId, userId: v.message.userId, reason: v.reason }, 'MySQL refused an order Redis had accepted (202); it is FAILED');
      }
    }
    return verdicts;
  }

  /** Persists every message of the batch (or dead-letters it); throws when the batch must be delivered again. */
  async function processBatch(batch: StringMessage[]): Promise<void> {
    const groups = new Map<string, Array<{ raw: StringMessage; message: ReservationMessage }>>();
    for (const raw of batch) {
      let message: ReservationMessage;
      try {
        message = parseReservationMessage(raw.value);
      } catch (error) {
        await deadLetter(raw, undefined, error);
        continue;
      }
      const group = groups.get(message.activityId) ?? [];
      group.push({ raw, message });
      groups.set(message.activityId, group);
    }
    for (const [activityId, items] of groups) {
      let verdicts: Verdict[];
      try {
        verdicts = await withRetries('persist batch', () => persistGroup(activityId, items.map((i) => i.message)));
      } catch (error) {
        // The batch as a whole keeps failing: isolate the culprit by retrying one by one.
        log.warn({ err: describe(error), activityId, size: items.length }, 'batch failed; retrying messages one by one');
        verdicts = [];
        for (const item of items) {
          try {
            verdicts.push(...(await withRetries('persist one', () => persistGroup(activityId, [item.message]))));
          } catch (lastError) {
            await deadLetter(item.raw, item.message, lastError);
          }
        }
      }
      await withRetries('after commit', () => afterCommit(activityId, verdicts));
    }
  }

  return { processBatch };
}
