/**
 * The outbox: side-effect events written in the same transaction as the change they announce, and
 * relayed to Kafka afterwards (lifecycle/events/outbox-relay.ts). Rows are relayed in id order and
 * marked published only after Kafka has them, so a crash in between relays them again, never loses one.
 */
import { sql } from 'kysely';
import type { NewOutboxEvent, OutboxEvent } from '../../domain/events.ts';
import type { Db } from '../client.ts';

/** Appends the events to the caller's transaction (one statement). */
export async function appendOutbox(db: Db, events: NewOutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('outbox')
    .values(events.map((e) => ({ aggregate_id: e.orderId, event_type: e.type, payload: JSON.stringify(e.payload) })))
    .execute();
}

/** The oldest `limit` events not yet published, in id order. */
export async function listUnpublished(db: Db, limit: number): Promise<OutboxEvent[]> {
  const rows = await db.selectFrom('outbox').selectAll().where('published_at', 'is', null).orderBy('id').limit(limit).execute();
  return rows.map((row) => ({
    eventId: String(row.id),
    type: row.event_type,
    orderId: row.aggregate_id,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    createdAt: row.created_at.toISOString(),
  }));
}

export async function markPublished(db: Db, eventIds: string[]): Promise<void> {
  await db.updateTable('outbox').set({ published_at: new Date() }).where('id', 'in', eventIds).execute();
}

/** Events waiting to be relayed, and when the oldest was written (both read the (published_at, id) index). */
export async function outboxBacklog(db: Db): Promise<{ rows: number; oldestCreatedAt: Date | undefined }> {
  const [count, oldest] = await Promise.all([
    db.selectFrom('outbox').select(sql<number>`COUNT(*)`.as('rows')).where('published_at', 'is', null).executeTakeFirstOrThrow(),
    db.selectFrom('outbox').select('created_at').where('published_at', 'is', null).orderBy('id').limit(1).executeTakeFirst(),
  ]);
  return { rows: Number(count.rows), oldestCreatedAt: oldest?.created_at };
}

/**
 * Runs `fn` on one connection while holding the MariaDB named lock `name` (GET_LOCK, no wait);
 * undefined without running it when another connection holds the lock. The lock is the
 * connection's, so it goes with the connection if the process dies.
 */
export async function withNamedLock<T>(db: Db, name: string, fn: (conn: Db) => Promise<T>): Promise<T | undefined> {
  return db.connection().execute(async (conn) => {
    const got = await sql<{ got: number | null }>`SELECT GET_LOCK(${name}, 0) AS got`.execute(conn);
    if (Number(got.rows[0]?.got) !== 1) return undefined;
    try {
      return await fn(conn);
    } finally {
      await sql`SELECT RELEASE_LOCK(${name})`.execute(conn).catch(() => {});
    }
  });
}
