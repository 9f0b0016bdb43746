/**
 * Keeps every open activity's stock present in Redis: Redis here keeps nothing on disk, so after a
 * restart the gate would be empty. The sweep notices the missing counter and re-loads it from
 * MySQL (the same idempotent, lock-guarded load as preheat).
 */
import { listOpenActivities } from '../db/repositories/catalog.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import type { Inventory } from '../services/inventory.ts';
import { periodicTask } from './periodic.ts';

export function createStockSweeper(db: Db, redis: RedisClient, keys: Keys, inventory: Inventory, log: Logger, intervalMs = 2000) {
  return periodicTask('stock-sweeper', intervalMs, log, async () => {
    for (const activity of await listOpenActivities(db, new Date())) {
      if ((await redis.exists(keys.activity(activity.id).remaining)) === 1) continue;
      const { after } = await inventory.loadFromTruth(activity);
      log.warn({ activityId: activity.id, remaining: after }, 'stock was missing in Redis; re-loaded from MySQL');
    }
  });
}
