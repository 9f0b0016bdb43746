/**
 * Transactions, for the services that need several repositories' writes to commit together (or a
 * row lock held across them). The repositories hold the SQL; this is only where it begins and ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, Trx } from './client.ts';

/** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
export function inTransaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}

const RETRYABLE = new Set([1213, 1205]); // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT

/**
 * A transaction that may lose a deadlock or a lock wait (reaper, callbacks and cancellations lock
 * the same rows from different directions) is retried a few times: the loser rolled back whole.
 */
export async function retryTransaction<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      if (attempt >= attempts || errno === undefined || !RETRYABLE.has(errno)) throw error;
      await sleep(10 * attempt + Math.random() * 20);
    }
  }
}
