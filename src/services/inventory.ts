/**
 * Moves an activity's sellable units between MySQL (the truth) and Redis (the gate):
 * preheat/reconcile load Redis from MySQL under the stock row lock; stats read both sides.
 */
import { sql } from 'kysely';
import type { Db } from '../db/client.ts';
import { listOpenActivities } from '../db/repositories/catalog.ts';
import { ORDER_STATUSES, type OrderStatus } from '../db/schema.ts';
import type { Activity } from '../domain/activity.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { type LoadResult, load, remaining } from '../redis/stock.ts';
import type { SoldOutFlags } from './sold-out.ts';

export interface ActivityStats {
  activityId: string;
  stock: number;
  redis: { remaining: number };
  db: { available: number; locked: number; sold: number };
  orders: Record<OrderStatus, number>;
}

export interface Inventory {
  /**
   * Sets Redis to what MySQL can still honour: `available` minus reservations not yet persisted.
   * The stock row is held FOR UPDATE meanwhile, so no worker can commit an order in between and
   * Redis never ends up offering more than MySQL has. Idempotent.
   */
  loadFromTruth(activity: Pick<Activity, 'id' | 'segments'>): Promise<LoadResult>;
  stats(activity: Pick<Activity, 'id' | 'stock'>): Promise<ActivityStats>;
  /**
   * Re-loads every open activity whose counter is missing from Redis (Redis here keeps nothing on
   * disk, so a restart empties the gate); returns what it re-loaded.
   */
  reloadMissing(): Promise<Array<{ activityId: string; remaining: number }>>;
}

export function createInventory(db: Db, redis: RedisClient, keys: Keys, soldOut: SoldOutFlags): Inventory {
  const inventory: Inventory = {
    async reloadMissing() {
      const reloaded: Array<{ activityId: string; remaining: number }> = [];
      for (const activity of await listOpenActivities(db, new Date())) {
        if ((await redis.exists(keys.activity(activity.id).remaining)) === 1) continue;
        const { after } = await inventory.loadFromTruth(activity);
        reloaded.push({ activityId: activity.id, remaining: after });
      }
      return reloaded;
    },

    async loadFromTruth(activity) {
      const result = await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('activity_stock')
          .select('available')
          .where('activity_id', '=', activity.id)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw new Error(`activity ${activity.id} has no stock row`);
        return load(redis, keys, activity.id, activity.segments, row.available);
      });
      if (result.after > Math.max(0, result.before)) await soldOut.announceReturned(activity.id);
      return result;
    },

    async stats(activity) {
      // One consistent picture: under the stock row lock no worker is between settling its
      // reservations in Redis and committing their rows, so every order is counted exactly once.
      return db.transaction().execute(async (trx) => {
        const stock = await trx
          .selectFrom('activity_stock')
          .select(['available', 'locked', 'sold'])
          .where('activity_id', '=', activity.id)
          .forUpdate()
          .executeTakeFirstOrThrow();
        const [counts, redisRemaining, reserved] = await Promise.all([
          trx
            .selectFrom('orders')
            .select(['status', sql<number>`COUNT(*)`.as('n')])
            .where('activity_id', '=', activity.id)
            .groupBy('status')
            .execute(),
          remaining(redis, keys, activity.id),
          redis.hkeys(keys.activity(activity.id).reservations),
        ]);
        const orders = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
        for (const { status, n } of counts) orders[status] = Number(n);
        // QUEUED orders have no row yet: the reservations without one (a FAILED order's entry
        // lingers until the worker releases it after its commit, and must not count twice).
        let persisted = 0;
        for (let i = 0; i < reserved.length; i += 1000) {
          const chunk = reserved.slice(i, i + 1000);
          const row = await trx
            .selectFrom('orders')
            .select(sql<number>`COUNT(*)`.as('n'))
            .where('id', 'in', chunk)
            .executeTakeFirstOrThrow();
          persisted += Number(row.n);
        }
        orders.QUEUED = reserved.length - persisted;
        return {
          activityId: activity.id,
          stock: activity.stock,
          redis: { remaining: redisRemaining ?? 0 },
          db: { available: stock.available, locked: stock.locked, sold: stock.sold },
          orders,
        };
      });
    },
  };
  return inventory;
}
