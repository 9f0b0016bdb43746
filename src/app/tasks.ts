/**
 * The background tasks of the worker role, in the order they start (and stop in reverse): the order
 * worker first, so the pipeline that turns 202s into orders is the first thing running, then the
 * sweeper that keeps the gate loaded, then the order lifecycle (reaper, reconciliation, waitlist
 * passes, the outbox relay and the side-effect consumers).
 */
import { createStockSweeper } from '../inventory/stock-sweeper.ts';
import { createEventConsumer } from '../lifecycle/events/consumer.ts';
import { createEventHandlers, createRecordingSender, type NotificationSender } from '../lifecycle/events/handlers.ts';
import { createOutboxRelay } from '../lifecycle/events/outbox-relay.ts';
import { createReaper } from '../lifecycle/reaper.ts';
import { createWaitlistTask } from '../lifecycle/waitlist-task.ts';
import type { BackgroundTask } from '../platform/background-task.ts';
import type { Infra } from '../platform/infra.ts';
import { createOrderWorker } from '../purchase/order-worker.ts';
import { createReconcileTask } from '../reconcile/reconcile-task.ts';
import { createAdmissionLeader } from '../waiting-room/admission.ts';
import type { Services } from './services.ts';

export function createBackgroundTasks(infra: Infra, services: Services, sender?: NotificationSender): BackgroundTask[] {
  const { config, db, kafka, log, metrics } = infra;
  return [
    createOrderWorker({ ...infra, ...services }),
    createStockSweeper(services.inventory, log),
    createReaper({ db, cancellation: services.cancellation, log, metrics, intervalMs: config.reaperIntervalMs }),
    createReconcileTask(db, services.reconciler, log, config.reconcileIntervalMs),
    // Offers expire in seconds: a pass at least every second, at most four per offer window.
    createWaitlistTask(db, services.waitlist, log, Math.min(1000, Math.max(100, config.waitlistOfferSeconds * 250))),
    // One leader (a Redis lease) moves every waiting room; the others stand by.
    createAdmissionLeader({ db, redis: infra.redis, keys: infra.keys, waitingRoom: services.waitingRoom, log, metrics, instanceId: infra.instanceId }),
    createOutboxRelay({ db, producer: kafka.producer, topic: kafka.topics.events, database: config.mysql.database, log, metrics }),
    ...createEventHandlers(db, sender ?? createRecordingSender(log)).map((handler) => createEventConsumer(kafka, handler, log)),
  ];
}
