/**
 * A consumer-group member that never gives up (issue #10, fault 1). @platformatic/kafka destroys a
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
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { describe, type Kafka, type StringConsumer, type StringStream } from './client.ts';

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
const CLOSE_TIMEOUT_MS = 3000;

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
      const reason = lost(consumer, stream);
      consuming = true;
      if (generation > 1) log.warn({ groupId, generation }, 'kafka consumer rejoined');
      options.onStream(stream, generation);
      const why = await Promise.race([reason, stop]);
      consuming = false;
      options.onLost?.(generation);
      if (why !== 'stop') log.warn({ err: describe(why), groupId }, 'kafka consumer lost; joining again');
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
