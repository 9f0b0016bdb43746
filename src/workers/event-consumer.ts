/**
 * Runs one event handler as a Kafka consumer group on `<prefix>.events`: messages of a partition
 * are handled one after another (so one order's events apply in order), offsets are committed only
 * after the handler's write. A crash before the commit redelivers, which the handler absorbs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '@platformatic/kafka';
import type { BackgroundTask } from '../app.ts';
import { describe, type Kafka, type StringStream } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import type { EventHandler } from '../services/event-handlers.ts';
import type { OutboxEvent } from './outbox-relay.ts';

type KafkaMessage = Message<string, string, string, string>;

const STOP_TIMEOUT_MS = 3000;

export function createEventConsumer(kafka: Kafka, handler: EventHandler, log: Logger): BackgroundTask {
  const clog = log.child({ component: `events-${handler.name}` });
  let consumer: ReturnType<Kafka['createConsumer']> | undefined;
  let stream: StringStream | undefined;
  let joined: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let running = false;

  async function apply(message: KafkaMessage): Promise<void> {
    let event: OutboxEvent;
    try {
      event = JSON.parse(message.value) as OutboxEvent;
    } catch (error) {
      clog.error({ err: describe(error), offset: String(message.offset) }, 'unreadable event skipped');
      return;
    }
    // Retry until it applies (or we stop): skipping would lose a side effect.
    for (let attempt = 1; running; attempt++) {
      try {
        await handler.handle(event);
        return;
      } catch (error) {
        clog.warn({ err: describe(error), eventId: event.eventId, attempt }, 'event handler failed; retrying');
        await sleep(Math.min(2000, 50 * 2 ** attempt));
      }
    }
    throw new Error('stopped before the event was applied');
  }

  async function run(s: StringStream): Promise<void> {
    try {
      for await (const message of s as AsyncIterable<KafkaMessage>) {
        if (!running) break;
        await apply(message);
        await message.commit();
      }
    } catch (error) {
      if (running) clog.error({ err: describe(error) }, 'event stream failed');
    }
  }

  return {
    name: `events-${handler.name}`,
    async start() {
      running = true;
      // Joining the group takes a while; the process does not wait for it (events are not urgent).
      joined = (async () => {
        consumer = kafka.createConsumer(kafka.topics.eventGroup(handler.name), { maxWaitTime: 100 });
        stream = await consumer.consume({ topics: [kafka.topics.events], mode: 'committed', fallbackMode: 'earliest' });
        // Errors after the loop let go of the stream (a fetch failing while the client closes)
        // would otherwise be uncaught and take the process down.
        stream.on('error', (error: unknown) => {
          if (running) clog.warn({ err: describe(error) }, 'event stream error');
        });
      })().catch((error: unknown) => clog.error({ err: describe(error) }, 'event consumer could not start'));
      loop = joined.then(() => (stream && running ? run(stream) : undefined));
    },
    async stop() {
      if (!running) return;
      running = false;
      // Both waits are bounded: a join or a close racing a rebalance can wait for one that never
      // completes. Giving up is safe — uncommitted events are redelivered to the next member, and
      // every handler applies an event once however often it arrives.
      // First let a join in progress finish: closing the client under it would make the stream
      // it is building fail before anyone can listen to it.
      await Promise.race([joined, sleep(STOP_TIMEOUT_MS)]);
      await Promise.race([
        (async () => {
          await stream?.close().catch(() => {});
          await consumer?.close(true).catch(() => {});
          await loop;
        })(),
        sleep(STOP_TIMEOUT_MS),
      ]);
    },
  };
}
