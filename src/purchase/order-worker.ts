/**
 * The order worker: consumes `<prefix>.orders` in a consumer group and hands each batch to
 * order-batches.ts (persist, settle, release the refused, announce), and only then commits the
 * offsets. A crash anywhere before the commit means redelivery, which the persister absorbs
 * (unique order id / request id). This module is the consume loop: fetching with back-pressure,
 * committing per member generation, readiness, and a watchdog for a member that fetches nothing;
 * what a failure costs a message is order-retry.ts's business.
 *
 * The consumer is supervised (a broker restart makes it join again; `ready()` is false meanwhile):
 * see README, Faults.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/client.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import { describe, type Kafka, type StringMessage, type StringStream } from '../kafka/client.ts';
import { superviseConsumer } from '../kafka/supervised-consumer.ts';
import type { Orders } from '../lifecycle/orders.ts';
import type { BackgroundTask } from '../platform/background-task.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { periodicTask } from '../platform/periodic.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { createOrderBatches } from './order-batches.ts';
import { createDeadLetters, createRetryPolicy } from './order-retry.ts';

/** A fetched message and the consumer generation it came from (its offset is only committable there). */
interface Fetched {
  raw: StringMessage;
  generation: number;
}

/** A batch in hand for longer than this (MySQL away, say) means orders are not flowing: not ready. */
const STALL_MS = 15_000;
/** Joined, idle, and nothing fetched for this long while its partitions hold messages: stuck. */
const FETCH_STALL_MS = 15_000;
const STOP_TIMEOUT_MS = 5000;

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
  const { kafka } = deps;
  const log = deps.log.child({ component: 'order-worker' });
  const maxBatch = deps.maxBatch ?? 500;

  let stream: StringStream | undefined;
  let buffer: Fetched[] = [];
  let wake: (() => void) | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  /** When the batch in hand was taken (undefined: none in hand). */
  let batchStartedAt: number | undefined;
  /** When the current member last received a message (or joined). */
  let lastFetchAt = Date.now();

  const supervisor = superviseConsumer({
    kafka,
    groupId: kafka.topics.orderWorkerGroup,
    topic: kafka.topics.orders,
    log,
    overrides: { maxWaitTime: 50 },
    onStream(next, generation) {
      stream = next;
      lastFetchAt = Date.now();
      next.on('data', (raw: StringMessage) => {
        lastFetchAt = Date.now();
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

  const withRetries = createRetryPolicy({ ...deps, log, attempts: deps.attempts ?? 3, running: () => running });
  const deadLetter = createDeadLetters({ ...deps, log, withRetries });
  const { processBatch } = createOrderBatches({ ...deps, log, withRetries, deadLetter });

  /** Commits each generation's part of the batch; a part whose member is gone is delivered again. */
  async function commit(batch: Fetched[]): Promise<void> {
    const generations = new Set(batch.map((f) => f.generation));
    for (const generation of generations) {
      const raws = batch.filter((f) => f.generation === generation).map((f) => f.raw);
      await supervisor.commit(raws, generation);
    }
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
      batchStartedAt = Date.now();
      try {
        await processBatch(batch.map((f) => f.raw));
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
      } finally {
        batchStartedAt = undefined;
      }
    }
  }

  /**
   * A member can be joined and assigned partitions and still receive nothing (a fetch session the
   * client never restarts after a broker restart): its messages would wait forever while readiness
   * said yes. When this member is idle, has fetched nothing for a while and its own partitions hold
   * uncommitted messages, it is dropped and joins again. Only its own partitions count: another
   * worker's backlog is that worker's business.
   */
  const watchdog = periodicTask('order-worker-watchdog', 5000, log, async () => {
    if (!supervisor.consuming || buffer.length > 0 || batchStartedAt !== undefined) return;
    if (Date.now() - lastFetchAt < FETCH_STALL_MS) return;
    const mine = new Set(supervisor.assigned());
    if (mine.size === 0) return;
    const lags = await kafka.consumerLag([{ groupId: kafka.topics.orderWorkerGroup, topic: kafka.topics.orders }]);
    const waiting = lags.filter((l) => mine.has(l.partition)).reduce((n, l) => n + l.lag, 0);
    if (waiting === 0) return;
    log.warn({ waiting, idleMs: Date.now() - lastFetchAt }, 'order consumer is joined but receives nothing while messages wait; joining again');
    lastFetchAt = Date.now();
    supervisor.rejoin('joined but fetching nothing');
  });

  return {
    name: 'order-worker',
    // Orders flow only while the member is joined and its batch in hand is not stuck.
    ready: () => supervisor.consuming && (batchStartedAt === undefined || Date.now() - batchStartedAt < STALL_MS),
    async start() {
      running = true;
      // Joining can wait out a dead member's session: the process does not wait for it (the API
      // listens meanwhile, and readiness says the pipeline is not consuming yet).
      supervisor.start();
      loop = run();
      await watchdog.start();
    },
    async stop() {
      if (!running) return;
      running = false;
      stream?.pause();
      // Messages fetched but not processed stay uncommitted: the next owner of the partition gets them.
      buffer = [];
      wake?.();
      await watchdog.stop();
      // Bounded: the batch in hand ends its MySQL transaction either way (commit or rollback), and
      // anything not committed to Kafka is delivered again to the next member.
      await Promise.race([loop, sleep(STOP_TIMEOUT_MS)]);
      await supervisor.stop();
    },
  };
}
