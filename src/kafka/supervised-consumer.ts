/**
 * A consumer-group member that never gives up (README, "Faults"). @platformatic/kafka destroys a
 * MessagesStream when a fetch fails (a broker restart, a SIGSTOPped broker timing out) and stops
 * rejoining when a rejoin fails; left alone, order creation would stop for good while the API kept
 * handing out 202s. So every stream is watched: when it closes, errors, its consumer reports a
 * failed rejoin or a stalled heartbeat, the member is closed and a fresh consumer joins again, with
 * capped exponential backoff, for as long as the task runs.
 *
 * `consuming` is true only between a successful join and the stream's death: readiness reports it,
 * so an instance whose pipeline is not consuming answers /readyz 503. Each new stream gets the next
 * generation number; messages of an older generation belong to a member that is gone (their
 * offsets can no longer be committed) and are redelivered to the new one.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../platform/log.ts';
import { describe, type Kafka, type StringConsumer, type StringStream } from './client.ts';

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
const CLOSE_TIMEOUT_MS = 3000;
/** A commit that has not settled by then is given up: its messages are delivered again. */
const COMMIT_TIMEOUT_MS = 10_000;

export interface SupervisedConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  log: Logger;
  overrides?: Parameters<Kafka['createConsumer']>[1];
  /** Called for every new stream; what it returns is not awaited (the stream's death is). */
  onStream(stream: StringStream, generation: number): void;
  /** Called once a stream is gone (before the next one is made). */
  onLost?(generation: number): void;
}

export interface SupervisedConsumer {
  /** True while joined with a live stream. */
  readonly consuming: boolean;
  readonly generation: number;
  /**
   * Commits the offsets of `messages` (fetched by member `generation`): true once committed, false
   * when that member is gone or the commit did not settle in time. The library parks a commit made
   * while its member is not active until that member joins again, which a member we replaced never
   * does; awaited without a bound, such a commit stopped the order pipeline for good after a broker
   * restart. A false is harmless: the messages are delivered again, and their writes are idempotent.
   */
  commit(messages: Array<{ partition: number; commit(): void | Promise<void> }>, generation: number): Promise<boolean>;
  /** Partitions of `topic` the current member was assigned (empty while not consuming). */
  assigned(): number[];
  /** Drops the current member (it is joined but stuck) and joins again. */
  rejoin(reason: string): void;
  /** Starts joining in the background; never throws. */
  start(): void;
  /** Leaves the group (bounded wait); uncommitted messages go to the next member. */
  stop(): Promise<void>;
}

export function superviseConsumer(options: SupervisedConsumerOptions): SupervisedConsumer {
  const { kafka, groupId, topic, log } = options;
  let running = false;
  let consuming = false;
  let generation = 0;
  let loop: Promise<void> | undefined;
  let wakeStop: (() => void) | undefined;
  /** Aborted when the current member is gone (lost, dropped or stopped). */
  let member = new AbortController();
  let drop: ((reason: Error) => void) | undefined;
  let current: StringConsumer | undefined;
  const stopped = () =>
    new Promise<'stop'>((resolve) => {
      wakeStop = () => resolve('stop');
    });

  async function closeQuietly(consumer: StringConsumer, stream?: StringStream): Promise<void> {
    await Promise.race([
      (async () => {
        await stream?.close().catch(() => {});
        await consumer.close(true).catch(() => {});
      })(),
      sleep(CLOSE_TIMEOUT_MS),
    ]);
  }

  /** Resolves with the reason the member is no longer usable. */
  function lost(consumer: StringConsumer, stream: StringStream): Promise<unknown> {
    return new Promise((resolve) => {
      stream.once('close', () => resolve(new Error('stream closed')));
      stream.once('error', resolve);
      // A failed rejoin ends heartbeats for good; a stall means the broker stopped answering.
      consumer.once('error', resolve);
      consumer.once('consumer:heartbeat:stalled', () => resolve(new Error('heartbeat stalled')));
    });
  }

  async function run(): Promise<void> {
    const stop = stopped();
    let backoff = MIN_BACKOFF_MS;
    while (running) {
      const consumer = kafka.createConsumer(groupId, options.overrides);
      let stream: StringStream;
      try {
        stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' });
      } catch (error) {
        log.warn({ err: describe(error), groupId, retryInMs: backoff }, 'kafka consumer could not join; retrying');
        await closeQuietly(consumer);
        await Promise.race([sleep(backoff), stop]);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      generation += 1;
      const dropped = new Promise<Error>((resolve) => {
        drop = resolve;
      });
      const why = Promise.race([lost(consumer, stream), dropped, stop]);
      member = new AbortController();
      current = consumer;
      consuming = true;
      if (generation > 1) log.warn({ groupId, generation }, 'kafka consumer rejoined');
      options.onStream(stream, generation);
      await why;
      member.abort();
      drop = undefined;
      current = undefined;
      consuming = false;
      options.onLost?.(generation);
      const reason = await why;
      if (reason !== 'stop') log.warn({ err: describe(reason), groupId }, 'kafka consumer lost; joining again');
      await closeQuietly(consumer, stream);
      // A member that worked is retried at once; only repeated failures back off.
      backoff = MIN_BACKOFF_MS;
      if (running) await Promise.race([sleep(backoff), stop]);
    }
  }

  return {
    get consuming() {
      return consuming;
    },
    get generation() {
      return generation;
    },
    async commit(messages, of) {
      if (of !== generation || !consuming) return false;
      // Committing the last message of each partition commits everything before it.
      const last = new Map<number, (typeof messages)[number]>();
      for (const m of messages) last.set(m.partition, m);
      const committed = Promise.all([...last.values()].map(async (m) => m.commit())).then(
        () => 'committed' as const,
        (error: unknown) => {
          log.warn({ err: describe(error), groupId, generation: of }, 'offset commit failed; the messages will be delivered again');
          return 'failed' as const;
        },
      );
      const bound = AbortSignal.any([member.signal, AbortSignal.timeout(COMMIT_TIMEOUT_MS)]);
      const outcome = await Promise.race([committed, once(bound, 'abort').then(() => (member.signal.aborted ? 'gone' : 'timeout'))]);
      if (outcome === 'timeout') log.warn({ groupId, generation: of }, 'offset commit did not settle; the messages will be delivered again');
      return outcome === 'committed';
    },
    assigned() {
      return (current?.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions);
    },
    rejoin(reason) {
      drop?.(new Error(reason));
    },
    start() {
      if (running) return;
      running = true;
      loop = run().catch((error: unknown) => log.error({ err: describe(error), groupId }, 'kafka consumer supervisor failed'));
    },
    async stop() {
      if (!running) return;
      running = false;
      wakeStop?.();
      await Promise.race([loop, sleep(CLOSE_TIMEOUT_MS * 2)]);
    },
  };
}
