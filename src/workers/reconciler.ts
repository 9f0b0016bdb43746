/**
 * Periodic reconciliation (SECKILL_RECONCILE_INTERVAL_MS) and waitlist passes, in the worker role.
 * Reconciliation is idempotent and takes the stock row lock per activity, so several workers doing
 * it at once only repeat each other's work; the waitlist pass (frequent: offers expire in seconds)
 * expires unused offers and hands their units to the next waiting user.
 */
import { listOpenActivities } from '../db/repositories/catalog.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { Reconciler } from '../services/reconcile.ts';
import type { Waitlist } from '../services/waitlist.ts';
import { periodicTask } from './periodic.ts';

export function createReconcileTask(db: Db, reconciler: Reconciler, log: Logger, intervalMs: number) {
  return periodicTask('reconciler', intervalMs, log, async () => {
    for (const activity of await listOpenActivities(db, new Date())) {
      try {
        await reconciler.reconcile(activity);
      } catch (error) {
        log.error({ err: error, activityId: activity.id }, 'reconciliation failed');
      }
    }
  });
}

export function createWaitlistTask(db: Db, waitlist: Waitlist, log: Logger, intervalMs = 500) {
  return periodicTask('waitlist', intervalMs, log, async () => {
    for (const activity of await listOpenActivities(db, new Date())) await waitlist.pass(activity);
  });
}
