/**
 * The order worker: consumes `<prefix>.orders` in a consumer group, persists each batch (one
 * MySQL transaction per activity, settling the Redis reservations before it commits), then releases
 * the refused ones, announces the new statuses, and only then
 * commits the offsets. A crash anywhere before the commit means redelivery, which the persister
 * absorbs (unique order id / request id).
 *
 * Faults (issue #10): the consumer is supervised (a broker restart makes it join again; `ready()`
 * is false meanwhile). MySQL being away is not the message's fault: a transient error is retried,
 * with capped backoff, for as long as it lasts, and never dead-letters anything. Only a message
 * that keeps failing while MySQL answers goes to the dead-letter topic after bounded retries, is
 * recorded FAILED, and has its units released.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '@platformatic/kafka';
import type { BackgroundTask } from '../app.ts';
import type { Db } from '../db/client.ts';
import { type Order, parseReservationMessage, type ReservationMessage } from '../domain/order.ts';
import { isDependencyOutage } from '../dependency-errors.ts';
import { describe, type Kafka, type StringStream } from '../kafka/client.ts';
import { superviseConsumer } from '../kafka/supervised-consumer.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { release, restoreReservations, settle } from '../redis/stock.ts';
import type { ActivityCache } from '../services/activity-cache.ts';
import type { Inventory } from '../services/inventory.ts';
import { persistActivityBatch, type Verdict } from '../services/order-persister.ts';
import type { Orders } from '../services/orders.ts';
import type { SoldOutFlags } from '../services/sold-out.ts';

type KafkaMessage = Message<string, string, string, string>;
/** A fetched message and the consumer generation it came from (its offset is only committable there). */
interface Fetched {
  raw: KafkaMessage;
  generation: number;
}

const MAX_DB_BACKOFF_MS = 5000;

export interface OrderWorkerDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  kafka: Kafka;
  activities: ActivityCache;
  inventory: Inventory;
  orders: Orders;
  soldOut: SoldOutFlags;
  metrics: Metrics;
  log: Logger;
  maxBatch?: number;
  attempts?: number;
}

export interface OrderWorker extends BackgroundTask {
  /** True while the consumer is joined and fetching: readiness of the order pipeline. */
  ready(): boolean;
}

export function createOrderWorker(deps: OrderWorkerDeps): OrderWorker {
  const { db, redis, keys, kafka, activities, inventory, orders, soldOut, metrics } = deps;
  const log = deps.log.child({ component: 'order-worker' });
  const maxBatch = deps.maxBatch ?? 500;
  const attempts = deps.attempts ?? 3;

  let stream: StringStream | undefined;
  let buffer: Fetched[] = [];
  let wake: (() => void) | undefined;
  let running = false;
  let loop: Promise<void> | undefined;

  const supervisor = superviseConsumer({
    kafka,
    groupId: kafka.topics.orderWorkerGroup,
    topic: kafka.topics.orders,
    log,
    overrides: { maxWaitTime: 50 },
    onStream(next, generation) {
      stream = next;
      next.on('data', (raw: KafkaMessage) => {
        buffer.push({ raw, generation });
        // Back-pressure: stop fetching while a few batches are waiting.
        if (buffer.length >= maxBatch * 4) next.pause();
        wake?.();
      });
    },
    onLost(generation) {
      // Their offsets died with the member: the next member is sent them again.
      buffer = buffer.filter((f) => f.generation !== generation);
      stream = undefined;
    },
  });

  /**
   * Retries `fn` while MySQL (or Redis, whose settle runs inside the transaction) is unreachable,
   * for as long as that lasts while running, and a bounded number of times for any other error,
   * which is then the message's own problem: a winner is never dead-lettered for an outage.
   */
  async function withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let failures = 0;
    for (let transient = 0; ; ) {
      try {
        return await fn();
      } catch (error) {
        if (isDependencyOutage(error) && running) {
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
  }

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
    // Redis let through more than MySQL had (drift, or degraded admission): clamp it to the truth.
    // Degraded admissions (Redis was down) took MySQL units Redis never counted: re-load it too.
    const degraded = verdicts.some((v) => v.message.degraded === true);
    if ((outOfStock || degraded) && activity) await inventory.loadFromTruth(activity, { waitForPipeline: false });
    for (const verdict of verdicts) {
      if (verdict.kind === 'accepted' || verdict.kind === 'failed') await orders.announce(orderOf(verdict));
    }
  }

  function orderOf(verdict: Extract<Verdict, { kind: 'accepted' | 'failed' }>): Order {
    const { message } = verdict;
    const order: Order = {
      orderId: message.orderId,
      activityId: message.activityId,
      userId: message.userId,
      quantity: message.quantity,
      amountCents: message.quantity * message.unitPriceCents,
      status: verdict.kind === 'accepted' ? 'PENDING_PAYMENT' : 'FAILED',
      createdAt: new Date(message.reservedAtMs).toISOString(),
    };
    if (verdict.kind === 'accepted') order.expiresAt = verdict.expiresAt.toISOString();
    else order.reason = verdict.reason;
    return order;
  }

  async function persistGroup(activityId: string, messages: ReservationMessage[]): Promise<Verdict[]> {
    let settled: ReservationMessage[] = [];
    const startedAt = performance.now();
    const shards = (await activities.get(activityId))?.shards ?? 1;
    const verdicts = await persistActivityBatch(db, activityId, messages, async (v) => {
      settled = v.filter((x) => x.kind === 'accepted' || x.kind === 'duplicate').map((x) => x.message);
      await settle(redis, keys, activityId, settled, shards);
    }).catch(async (error: unknown) => {
      // Settled, then the COMMIT failed (MySQL dropped the connection): the orders are not in
      // MySQL, so their reservations must be in flight again, or a preheat would sell their
      // units a second time while the redelivered messages take them too.
      await restoreReservations(redis, keys, activityId, settled, shards).catch((restoreError: unknown) =>
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

  /** A message that cannot be processed: park it in the DLQ, record it FAILED, release its units. */
  async function deadLetter(raw: KafkaMessage, message: ReservationMessage | undefined, error: unknown): Promise<void> {
    metrics.ordersDeadLettered.inc();
    log.error({ err: describe(error), offset: String(raw.offset), partition: raw.partition }, 'order message dead-lettered');
    await withRetries('dlq publish', () =>
      kafka.producer.send({
        messages: [{ topic: kafka.topics.ordersDlq, key: raw.key, value: raw.value, headers: { error: describe(error).slice(0, 500) } }],
      }),
    );
    if (!message) return;
    await withRetries('dlq record', async () => {
      await db
        .insertInto('orders')
        .values({
          id: message.orderId,
          activity_id: message.activityId,
          user_id: message.userId,
          request_id: message.requestId,
          quantity: message.quantity,
          amount_cents: message.quantity * message.unitPriceCents,
          status: 'FAILED',
          reason: 'DEAD_LETTERED',
          created_at: new Date(message.reservedAtMs),
          expires_at: null,
        })
        .ignore()
        .execute();
      const activity = await activities.get(message.activityId);
      const placement = { segments: activity?.segments ?? 1, shards: activity?.shards ?? 1 };
      if (await release(redis, keys, { ...message, ...placement, returnStock: true, forgetAnswer: false })) {
        await soldOut.announceReturned(message.activityId);
      }
    });
  }

  async function processBatch(batch: Fetched[]): Promise<void> {
    const groups = new Map<string, Array<{ raw: KafkaMessage; message: ReservationMessage }>>();
    for (const { raw } of batch) {
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

  async function commit(batch: Fetched[]): Promise<void> {
    // Committing the last message of each partition commits everything before it.
    const last = new Map<number, KafkaMessage>();
    for (const { raw } of batch) last.set(raw.partition, raw);
    await Promise.all([...last.values()].map((m) => m.commit()));
  }

  async function run(): Promise<void> {
    while (running || buffer.length > 0) {
      if (buffer.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const batch = buffer.slice(0, maxBatch);
      buffer = buffer.slice(batch.length);
      if (stream?.isPaused() && buffer.length < maxBatch) stream.resume();
      try {
        await processBatch(batch);
        await commit(batch);
      } catch (error) {
        // Not committed: the messages come back after a restart or rebalance; nothing is lost.
        log.error({ err: describe(error) }, 'order batch failed; it will be redelivered');
        if (!running) break;
        await sleep(500);
        // Only a batch of the live member is retried here; an older one was already handed to
        // the new member by Kafka (retrying it would fail its commit forever).
        const live = batch.filter((f) => f.generation === supervisor.generation && supervisor.consuming);
        buffer = [...live, ...buffer];
      }
    }
  }

  return {
    name: 'order-worker',
    ready: () => supervisor.consuming,
    async start() {
      running = true;
      // Joining can wait out a dead member's session: the process does not wait for it (the API
      // listens meanwhile, and readiness says the pipeline is not consuming yet).
      supervisor.start();
      loop = run();
    },
    async stop() {
      if (!running) return;
      running = false;
      stream?.pause();
      // Messages fetched but not processed stay uncommitted: the next owner of the partition gets them.
      buffer = [];
      wake?.();
      await loop;
      await supervisor.stop();
    },
  };
}
