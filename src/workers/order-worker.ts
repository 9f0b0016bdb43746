/**
 * The order worker: consumes `<prefix>.orders` in a consumer group, persists each batch (one
 * MySQL transaction per activity, settling the Redis reservations before it commits), then releases
 * the refused ones, announces the new statuses, and only then
 * commits the offsets. A crash anywhere before the commit means redelivery, which the persister
 * absorbs (unique order id / request id). A message that keeps failing goes to the dead-letter
 * topic after bounded retries, is recorded FAILED, and its units are released.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '@platformatic/kafka';
import type { BackgroundTask } from '../app.ts';
import type { Db } from '../db/client.ts';
import { type Order, parseReservationMessage, type ReservationMessage } from '../domain/order.ts';
import { describe, type Kafka, type StringStream } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { release, settle } from '../redis/stock.ts';
import type { ActivityCache } from '../services/activity-cache.ts';
import type { Inventory } from '../services/inventory.ts';
import { persistActivityBatch, type Verdict } from '../services/order-persister.ts';
import type { Orders } from '../services/orders.ts';

type KafkaMessage = Message<string, string, string, string>;

export interface OrderWorkerDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  kafka: Kafka;
  activities: ActivityCache;
  inventory: Inventory;
  orders: Orders;
  metrics: Metrics;
  log: Logger;
  maxBatch?: number;
  attempts?: number;
}

export function createOrderWorker(deps: OrderWorkerDeps): BackgroundTask {
  const { db, redis, keys, kafka, activities, inventory, orders, metrics } = deps;
  const log = deps.log.child({ component: 'order-worker' });
  const maxBatch = deps.maxBatch ?? 500;
  const attempts = deps.attempts ?? 3;

  let consumer: ReturnType<Kafka['createConsumer']> | undefined;
  let stream: StringStream | undefined;
  let buffer: KafkaMessage[] = [];
  let wake: (() => void) | undefined;
  let running = false;
  let loop: Promise<void> | undefined;

  async function withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (attempt >= attempts) throw error;
        log.warn({ err: describe(error), attempt, what }, 'retrying');
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  /** After the MySQL commit: release each refused reservation in Redis, announce statuses. */
  async function afterCommit(activityId: string, verdicts: Verdict[]): Promise<void> {
    const activity = await activities.get(activityId);
    const segments = activity?.segments ?? 1;
    let outOfStock = false;
    for (const verdict of verdicts) {
      if (verdict.kind !== 'failed' && verdict.kind !== 'superseded') continue;
      const { message } = verdict;
      // A unit MySQL never had must not reappear in Redis; a unit refused for the user's quota
      // (or a superseded duplicate) is real and goes back on sale.
      const returnStock = !(verdict.kind === 'failed' && verdict.reason === 'OUT_OF_STOCK');
      outOfStock ||= !returnStock;
      await release(redis, keys, { ...message, segments, returnStock, forgetAnswer: false });
      // A superseded order id never gets a row: its QUEUED view must not outlive it.
      if (verdict.kind === 'superseded') await orders.forgetQueued(message.orderId);
    }
    // Redis let through more than MySQL had (drift, or degraded admission): clamp it to the truth.
    // Degraded admissions (Redis was down) took MySQL units Redis never counted: re-load it too.
    const degraded = verdicts.some((v) => v.message.degraded === true);
    if ((outOfStock || degraded) && activity) await inventory.loadFromTruth(activity);
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
    const verdicts = await persistActivityBatch(db, activityId, messages, (v) =>
      settle(
        redis,
        keys,
        activityId,
        v.filter((x) => x.kind === 'accepted' || x.kind === 'duplicate').map((x) => x.message.orderId),
      ),
    );
    metrics.workerBatchSize.observe(messages.length);
    for (const v of verdicts) {
      if (v.kind === 'accepted') metrics.ordersPersisted.inc({ status: 'PENDING_PAYMENT' });
      if (v.kind === 'failed') metrics.ordersPersisted.inc({ status: 'FAILED' });
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
      await release(redis, keys, { ...message, segments: activity?.segments ?? 1, returnStock: true, forgetAnswer: false });
    });
  }

  async function processBatch(batch: KafkaMessage[]): Promise<void> {
    const groups = new Map<string, Array<{ raw: KafkaMessage; message: ReservationMessage }>>();
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

  async function commit(batch: KafkaMessage[]): Promise<void> {
    // Committing the last message of each partition commits everything before it.
    const last = new Map<number, KafkaMessage>();
    for (const message of batch) last.set(message.partition, message);
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
        buffer = [...batch, ...buffer];
      }
    }
  }

  return {
    name: 'order-worker',
    async start() {
      consumer = kafka.createConsumer(kafka.topics.orderWorkerGroup, { maxWaitTime: 50 });
      stream = await consumer.consume({ topics: [kafka.topics.orders], mode: 'committed', fallbackMode: 'earliest' });
      running = true;
      stream.on('data', (message: KafkaMessage) => {
        buffer.push(message);
        // Back-pressure: stop fetching while a few batches are waiting.
        if (buffer.length >= maxBatch * 4) stream?.pause();
        wake?.();
      });
      stream.on('error', (error: unknown) => log.error({ err: describe(error) }, 'order stream error'));
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
      await stream?.close().catch(() => {});
      await consumer?.close(true).catch(() => {});
    },
  };
}
