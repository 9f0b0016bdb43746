/**
 * The payment-timeout reaper (promise 5): every SECKILL_REAPER_INTERVAL_MS, cancels orders still
 * PENDING_PAYMENT past `expiresAt`, in bounded batches. Each batch is one transaction that locks
 * its rows with FOR UPDATE SKIP LOCKED on the (status, expires_at) index, so any number of reapers
 * (worker processes) split the work instead of queueing on each other, and the status
 * compare-and-set means an order cancelled by someone else meanwhile is simply skipped.
 */
import type { BackgroundTask } from '../platform/background-task.ts';
import type { Db } from '../db/client.ts';
import { lockExpiredOrders } from '../db/repositories/orders.ts';
import type { Order } from '../domain/order.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Cancellation } from './cancellation.ts';
import { inTransaction, retryTransaction } from '../db/tx.ts';
import { periodicTask } from '../platform/periodic.ts';

export interface ReaperDeps {
  db: Db;
  cancellation: Cancellation;
  log: Logger;
  metrics?: Pick<Metrics, 'reaperExpired'>;
  intervalMs: number;
  batchSize?: number;
  /** Upper bound of batches per tick, so one tick never runs unbounded. */
  maxBatches?: number;
  now?: () => Date;
}

export function createReaper(deps: ReaperDeps) {
  const { db, cancellation } = deps;
  const log = deps.log.child({ component: 'reaper' });
  const batchSize = deps.batchSize ?? 200;
  const maxBatches = deps.maxBatches ?? 50;
  const now = deps.now ?? (() => new Date());

  /** One batch: returns the orders this call cancelled, and whether the batch was full. */
  async function reapBatch(): Promise<{ cancelled: Order[]; full: boolean }> {
    const { cancelled, seen } = await retryTransaction(() =>
      inTransaction(db, async (trx) => {
        const rows = await lockExpiredOrders(trx, now(), batchSize);
        if (rows.length === 0) return { cancelled: [], seen: 0 };
        return { cancelled: await cancellation.cancelLocked(trx, rows, 'PAYMENT_TIMEOUT'), seen: rows.length };
      }),
    );
    if (cancelled.length > 0) {
      deps.metrics?.reaperExpired.inc(cancelled.length);
      await cancellation.returnUnits(cancelled);
    }
    return { cancelled, full: seen === batchSize };
  }

  async function reapOnce(): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const { cancelled, full } = await reapBatch();
      total += cancelled.length;
      if (!full) break;
    }
    if (total > 0) log.info({ cancelled: total }, 'expired orders cancelled');
    return total;
  }

  const task: BackgroundTask & { reapOnce(): Promise<number> } = {
    ...periodicTask('reaper', deps.intervalMs, log, async () => {
      await reapOnce();
    }),
    reapOnce,
  };
  return task;
}
