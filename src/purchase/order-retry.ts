/**
 * What the order worker does when writing a batch fails. MySQL (or Redis, whose settle runs inside
 * the transaction) being away is not the message's fault: that is retried with capped back-off for
 * as long as it lasts, and never dead-letters anything. Any other error is retried a bounded number
 * of times; a message that still fails goes to the dead-letter topic, is recorded FAILED
 * DEAD_LETTERED (so its order id has a row: promise 4), and has its units released.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/client.ts';
import { insertOrderIfAbsent, orderRow } from '../db/repositories/orders.ts';
import type { ReservationMessage } from '../domain/order.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import { describe, type Kafka, type StringMessage } from '../kafka/client.ts';
import { isDependencyOutage } from '../platform/dependency-errors.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { release } from '../redis/reservations.ts';

const MAX_DB_BACKOFF_MS = 5000;

export interface RetryPolicyDeps {
  metrics: Pick<Metrics, 'workerDbRetries'>;
  log: Logger;
  /** Tries per batch (and per message) for an error that is not an outage. */
  attempts: number;
  /** False once the worker is stopping: an outage is then no longer waited out. */
  running(): boolean;
}

export type WithRetries = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export function createRetryPolicy(deps: RetryPolicyDeps): WithRetries {
  const { metrics, log, attempts } = deps;
  /**
   * Retries `fn` while MySQL (or Redis, whose settle runs inside the transaction) is unreachable,
   * for as long as that lasts while running, and a bounded number of times for any other error,
   * which is then the message's own problem: a winner is never dead-lettered for an outage.
   */
  return async function withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let failures = 0;
    for (let transient = 0; ; ) {
      try {
        return await fn();
      } catch (error) {
        if (isDependencyOutage(error) && deps.running()) {
          transient += 1;
          metrics.workerDbRetries.inc();
          // One line at the start of an outage and then every ~20 tries, not one per retry.
          if (transient === 1 || transient % 20 === 0) log.warn({ err: describe(error), what, transient }, 'MySQL or Redis unavailable; retrying');
          await sleep(Math.min(MAX_DB_BACKOFF_MS, 50 * 2 ** Math.min(transient, 7)));
          continue;
        }
        failures += 1;
        if (failures >= attempts) throw error;
        log.warn({ err: describe(error), attempt: failures, what }, 'retrying');
        await sleep(50 * 2 ** failures);
      }
    }
  };
}

export interface DeadLetterDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  kafka: Kafka;
  activities: Pick<ActivityCache, 'get'>;
  soldOut: Pick<SoldOutFlags, 'announceReturned'>;
  metrics: Pick<Metrics, 'ordersDeadLettered'>;
  log: Logger;
  withRetries: WithRetries;
}

/** A message that cannot be processed: park it in the DLQ, record it FAILED, release its units. */
export function createDeadLetters(deps: DeadLetterDeps) {
  const { db, redis, keys, kafka, activities, soldOut, metrics, log, withRetries } = deps;
  return async function deadLetter(raw: StringMessage, message: ReservationMessage | undefined, error: unknown): Promise<void> {
    metrics.ordersDeadLettered.inc();
    log.error({ err: describe(error), offset: String(raw.offset), partition: raw.partition }, 'order message dead-lettered');
    await withRetries('dlq publish', () =>
      kafka.producer.send({
        messages: [{ topic: kafka.topics.ordersDlq, key: raw.key, value: raw.value, headers: { error: describe(error).slice(0, 500) } }],
      }),
    );
    if (!message) return;
    await withRetries('dlq record', async () => {
      await insertOrderIfAbsent(db, orderRow(message, { status: 'FAILED', reason: 'DEAD_LETTERED' }));
      const activity = await activities.get(message.activityId);
      const placement = { segments: activity?.segments ?? 1, shards: activity?.shards ?? 1 };
      if (await release(redis, keys, { ...message, ...placement, returnStock: true, forgetAnswer: false })) {
        await soldOut.announceReturned(message.activityId);
      }
    });
  };
}
