/**
 * The outbox relay: publishes outbox rows written in the state-changing transactions to
 * `<prefix>.events`, keyed by order id, in id order, then marks them published. At-least-once: a
 * crash after the send and before the mark publishes the rows again, which the consumers absorb
 * (their tables are keyed by event id). One relay works at a time (a MariaDB named lock per
 * database), so events of one order are never published out of order by two relays.
 */
import { sql } from 'kysely';
import type { BackgroundTask } from '../app.ts';
import type { Db } from '../db/client.ts';
import type { StringProducer } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import { type Metrics, timeProduce } from '../metrics.ts';
import { periodicTask } from './periodic.ts';

export interface OutboxEvent {
  /** The outbox row id: the consumers' idempotency key. */
  eventId: string;
  type: string;
  orderId: string;
  payload: Record<string, unknown>;
  createdAt: string;
}

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
    return db.connection().execute(async (conn) => {
      const got = await sql<{ got: number | null }>`SELECT GET_LOCK(${lockName}, 0) AS got`.execute(conn);
      if (Number(got.rows[0]?.got) !== 1) return 0; // another relay is at it
      try {
        let total = 0;
        for (;;) {
          const rows = await conn
            .selectFrom('outbox')
            .selectAll()
            .where('published_at', 'is', null)
            .orderBy('id')
            .limit(batchSize)
            .execute();
          if (rows.length === 0) break;
          await timeProduce(deps.metrics, 'events', () =>
            producer.send({
            messages: rows.map((row) => {
              const event: OutboxEvent = {
                eventId: String(row.id),
                type: row.event_type,
                orderId: row.aggregate_id,
                payload: JSON.parse(row.payload) as Record<string, unknown>,
                createdAt: row.created_at.toISOString(),
              };
              return { topic, key: row.aggregate_id, value: JSON.stringify(event) };
            }),
            }),
          );
          await conn
            .updateTable('outbox')
            .set({ published_at: new Date() })
            .where('id', 'in', rows.map((r) => r.id))
            .execute();
          total += rows.length;
          if (rows.length < batchSize) break;
        }
        return total;
      } finally {
        await sql`SELECT RELEASE_LOCK(${lockName})`.execute(conn).catch(() => {});
      }
    });
  }

  const task: BackgroundTask & { relayOnce(): Promise<number> } = {
    ...periodicTask('outbox-relay', deps.intervalMs ?? 200, log, async () => {
      await relayOnce();
    }),
    relayOnce,
  };
  return task;
}
