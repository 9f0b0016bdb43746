/**
 * Runs one event handler as a Kafka consumer group on `<prefix>.events`: messages of a partition
 * are handled one after another (so one order's events apply in order), offsets are committed only
 * after the handler's write. A crash before the commit redelivers, which the handler absorbs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackgroundTask } from '../../platform/background-task.ts';
import { describe, type Kafka, type StringMessage, type StringStream } from '../../kafka/client.ts';
import { superviseConsumer } from '../../kafka/supervised-consumer.ts';
import type { Logger } from '../../platform/log.ts';
import type { EventHandler } from './handlers.ts';
import type { OutboxEvent } from '../../domain/events.ts';

const STOP_TIMEOUT_MS = 3000;

export function createEventConsumer(kafka: Kafka, handler: EventHandler, log: Logger): BackgroundTask {
  const clog = log.child({ component: `events-${handler.name}` });
  let running = false;
  /** The loop over the current stream; stop waits for the event in hand to be applied. */
  let loop: Promise<void> | undefined;

  async function apply(message: StringMessage): Promise<void> {
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

  async function run(s: StringStream, generation: number): Promise<void> {
    try {
      for await (const message of s as AsyncIterable<StringMessage>) {
        if (!running) break;
        await apply(message);
        // Bounded: a commit parked by a member that is gone would hold this loop forever.
        if (!(await supervisor.commit([message], generation))) break;
      }
    } catch (error) {
      // The supervisor sees the stream die too and joins again; uncommitted events come back.
      if (running) clog.warn({ err: describe(error) }, 'event stream failed');
    }
  }

  // Joining the group takes a while; the process does not wait for it (events are not urgent),
  // and a broker restart makes the supervisor join again instead of leaving side effects undone.
  const supervisor = superviseConsumer({
    kafka,
    groupId: kafka.topics.eventGroup(handler.name),
    topic: kafka.topics.events,
    log: clog,
    overrides: { maxWaitTime: 100 },
    onStream(stream, generation) {
      loop = run(stream, generation);
    },
  });

  return {
    name: `events-${handler.name}`,
    async start() {
      running = true;
      supervisor.start();
    },
    async stop() {
      if (!running) return;
      running = false;
      // Bounded: giving up is safe — uncommitted events are redelivered to the next member, and
      // every handler applies an event once however often it arrives.
      await supervisor.stop();
      await Promise.race([loop, sleep(STOP_TIMEOUT_MS)]);
    },
  };
}
