/**
 * Moves an activity's sellable units between MySQL (the truth) and Redis (the gate):
 * preheat/reconcile load Redis from MySQL under the stock row lock; stats read both sides.
 */
import { sql } from 'kysely';
import type { Db } from '../db/client.ts';
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
}

export function createInventory(db: Db, redis: RedisClient, keys: Keys, soldOut: SoldOutFlags): Inventory {
  return {
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
      const [stock, counts, redisRemaining] = await Promise.all([
        db
          .selectFrom('activity_stock')
          .select(['available', 'locked', 'sold'])
          .where('activity_id', '=', activity.id)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('orders')
          .select(['status', sql<number>`COUNT(*)`.as('n')])
          .where('activity_id', '=', activity.id)
          .groupBy('status')
          .execute(),
        remaining(redis, keys, activity.id),
      ]);
      const orders = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
      for (const { status, n } of counts) orders[status] = Number(n);
      // QUEUED orders have no row yet: they are the reservations the worker has not settled.
      orders.QUEUED += await redis.hlen(keys.activity(activity.id).reservations);
      return {
        activityId: activity.id,
        stock: activity.stock,
        redis: { remaining: redisRemaining ?? 0 },
        db: { available: stock.available, locked: stock.locked, sold: stock.sold },
        orders,
      };
    },
  };
}
