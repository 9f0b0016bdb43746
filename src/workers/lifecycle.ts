/**
 * The background tasks of issue #4 (worker role): payment-timeout reaper, periodic reconciliation,
 * waitlist passes, the outbox relay and the three side-effect consumers.
 */
import type { BackgroundTask } from '../app.ts';
import type { Infra } from '../infra.ts';
import type { Services } from '../services/container.ts';
import { createEventHandlers, createRecordingSender, type NotificationSender } from '../services/event-handlers.ts';
import { createEventConsumer } from './event-consumer.ts';
import { createOutboxRelay } from './outbox-relay.ts';
import { createReaper } from './reaper.ts';
import { createReconcileTask, createWaitlistTask } from './reconciler.ts';

export function createLifecycleTasks(infra: Infra, services: Services, sender?: NotificationSender): BackgroundTask[] {
  const { config, db, kafka, log, metrics } = infra;
  return [
    createReaper({ db, cancellation: services.cancellation, log, metrics, intervalMs: config.reaperIntervalMs }),
    createReconcileTask(db, services.reconciler, log, config.reconcileIntervalMs),
    createWaitlistTask(db, services.waitlist, log, Math.min(1000, Math.max(100, config.waitlistOfferSeconds * 250))),
    createOutboxRelay({ db, producer: kafka.producer, topic: kafka.topics.events, database: config.mysql.database, log, metrics }),
    ...createEventHandlers(db, sender ?? createRecordingSender(log)).map((handler) => createEventConsumer(kafka, handler, log)),
  ];
}
