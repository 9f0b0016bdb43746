/**
 * Periodic reconciliation (SECKILL_RECONCILE_INTERVAL_MS), in the worker role. Reconciliation is
 * idempotent and locks the stock slots of each activity, so several workers doing it at once only
 * repeat each other's work; one activity failing does not hold back the others.
 */
import { listOpenActivities } from '../db/repositories/catalog.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../platform/log.ts';
import { periodicTask } from '../platform/periodic.ts';
import type { Reconciler } from './reconcile.ts';

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
