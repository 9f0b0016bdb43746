/**
 * Keeps every open activity's stock present in Redis: Redis here keeps nothing on disk, so after a
 * restart the gate would be empty. The sweep notices the missing counter and re-loads it from
 * MySQL (the same idempotent, lock-guarded load as preheat).
 */
import type { Logger } from '../platform/log.ts';
import type { Inventory } from './inventory.ts';
import { periodicTask } from '../platform/periodic.ts';

export function createStockSweeper(inventory: Inventory, log: Logger, intervalMs = 2000) {
  return periodicTask('stock-sweeper', intervalMs, log, async () => {
    for (const reloaded of await inventory.reloadMissing()) log.warn(reloaded, 'stock was missing in Redis; re-loaded from MySQL');
  });
}
