/**
 * The outbox relay: publishes outbox rows written in the state-changing transactions to
 * `<prefix>.events`, keyed by order id, in id order, then marks them published. At-least-once: a
 * crash after the send and before the mark publishes the rows again, which the consumers absorb
 * (their tables are keyed by event id). One relay works at a time (a MariaDB named lock per
 * database), so events of one order are never published out of order by two relays.
 */
import type { Db } from '../../db/client.ts';
import { listUnpublished, markPublished, withNamedLock } from '../../db/repositories/outbox.ts';
import type { BackgroundTask } from '../../platform/background-task.ts';
import type { StringProducer } from '../../kafka/client.ts';
import type { Logger } from '../../platform/log.ts';
import { type Metrics, timeProduce } from '../../platform/metrics.ts';
import { within } from '../../platform/timeouts.ts';
import { periodicTask } from '../../platform/periodic.ts';

const SEND_TIMEOUT_MS = 10_000;

export interface RelayDeps {
  db: Db;
  producer: StringProducer;
  topic: string;
  database: string;
  log: Logger;
  metrics?: Pick<Metrics, 'kafkaProduceDuration'>;
  intervalMs?: number;
  batchSize?: number;
}

export function createOutboxRelay(deps: RelayDeps) {
  const { db, producer, topic } = deps;
  const log = deps.log.child({ component: 'outbox-relay' });
  const batchSize = deps.batchSize ?? 500;
  const lockName = `seckill_outbox_${deps.database}`;

  /** Publishes everything pending; returns how many rows were published. */
  async function relayOnce(): Promise<number> {
    const published = await withNamedLock(db, lockName, async (conn) => {
      let total = 0;
      for (;;) {
        const events = await listUnpublished(conn, batchSize);
        if (events.length === 0) break;
        const messages = events.map((event) => ({ topic, key: event.orderId, value: JSON.stringify(event) }));
        // Bounded: a frozen broker must not hold the relay's connection and lock for the whole
        // freeze. A send that lands after the bound is sent again next tick; consumers dedup.
        await timeProduce(deps.metrics, 'events', () =>
          within(producer.send({ messages }), SEND_TIMEOUT_MS, () => Object.assign(new Error('kafka send timed out'), { code: 'PLT_KFK_TIMEOUT' })),
        );
        await markPublished(
          conn,
          events.map((e) => e.eventId),
        );
        total += events.length;
        if (events.length < batchSize) break;
      }
      return total;
    });
    // Another relay holds the lock: it is at it.
    return published ?? 0;
  }

  const task: BackgroundTask & { relayOnce(): Promise<number> } = {
    ...periodicTask('outbox-relay', deps.intervalMs ?? 200, log, async () => {
      await relayOnce();
    }),
    relayOnce,
  };
  return task;
}
