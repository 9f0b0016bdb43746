/**
 * MySQL transactions that may lose a deadlock or a lock wait (reaper, callbacks and cancellations
 * lock the same rows from different directions): retried a few times, since the loser rolled back whole.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const RETRYABLE = new Set([1213, 1205]); // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT

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
