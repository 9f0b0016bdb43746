/**
 * Moves an activity's sellable units between MySQL (the truth) and Redis (the gate):
 * preheat/reconcile load Redis from MySQL under the stock row lock; stats read both sides.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Db } from '../db/client.ts';
import { listOpenActivities } from '../db/repositories/catalog.ts';
import { ORDER_STATUSES, type OrderStatus } from '../db/schema.ts';
import type { Activity } from '../domain/activity.ts';
import { ANSWER_GRACE_SECONDS } from '../domain/order.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import type { Logger } from '../log.ts';
import { allShardKeys, type LoadResult, listReservations, loadShard, rememberBuyers, remaining, shardSegments, shardSnapshot } from '../redis/stock.ts';
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
  /**
   * `waitForPipeline: false` for the order worker itself: it is the pipeline the rebuild would
   * wait on (see drainBeforeRebuild).
   */
  loadFromTruth(activity: Pick<Activity, 'id' | 'segments' | 'shards'>, options?: { waitForPipeline?: boolean }): Promise<LoadResult>;
  stats(activity: Pick<Activity, 'id' | 'stock' | 'shards'>): Promise<ActivityStats>;
  /**
   * Re-loads every open activity whose counter is missing from Redis (Redis here keeps nothing on
   * disk, so a restart empties the gate); returns what it re-loaded.
   */
  reloadMissing(): Promise<Array<{ activityId: string; remaining: number }>>;
}

/** How long a rebuild waits for the order pipeline to drain before it goes ahead anyway. */
const DRAIN_WAIT_MS = 10_000;

export interface InventoryOptions {
  /** True when every published reservation has been persisted (the order consumer group's lag is 0). */
  orderPipelineIdle?: () => Promise<boolean>;
  log?: Logger;
}

export function createInventory(db: Db, redis: RedisClient, keys: Keys, soldOut: SoldOutFlags, options: InventoryOptions = {}): Inventory {
  /**
   * Redis lost an activity that has sold: reservations already in Kafka are then in neither Redis
   * nor MySQL, and a rebuild from MySQL alone would offer their units and their buyers' limits
   * again (a 202 MySQL would then refuse). Let the worker persist them first. Waits outside the
   * stock row lock (the worker needs it), bounded: a pipeline that does not drain only delays.
   */
  async function drainBeforeRebuild(activity: Pick<Activity, 'id' | 'shards'>): Promise<void> {
    const idle = options.orderPipelineIdle;
    if (!idle) return;
    // Only the counters' existence: this runs before every load (reconciliation's included).
    const loaded = await Promise.all(allShardKeys(keys, activity.id, activity.shards).map((k) => redis.exists(k.remaining)));
    if (loaded.every((n) => n === 1)) return;
    const row = await db.selectFrom('activity_stock').select(['stock', 'available']).where('activity_id', '=', activity.id).executeTakeFirst();
    if (!row || row.available >= row.stock) return;
    const deadline = Date.now() + DRAIN_WAIT_MS;
    while (!(await idle().catch(() => false))) {
      if (Date.now() > deadline) {
        options.log?.warn({ activityId: activity.id }, 'order pipeline still busy; rebuilding the Redis gate from MySQL without waiting longer');
        return;
      }
      await sleep(200);
    }
  }

  const inventory: Inventory = {
    async reloadMissing() {
      const reloaded: Array<{ activityId: string; remaining: number }> = [];
      for (const activity of await listOpenActivities(db, new Date())) {
        const loaded = await Promise.all(allShardKeys(keys, activity.id, activity.shards).map((k) => redis.exists(k.remaining)));
        if (loaded.every((n) => n === 1)) continue;
        const { after } = await inventory.loadFromTruth(activity);
        reloaded.push({ activityId: activity.id, remaining: after });
      }
      return reloaded;
    },

    async loadFromTruth(activity, { waitForPipeline = true } = {}) {
      if (waitForPipeline) await drainBeforeRebuild(activity);
      const result = await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('activity_stock')
          .select('available')
          .where('activity_id', '=', activity.id)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw new Error(`activity ${activity.id} has no stock row`);
        // Redis lost the activity (restarted empty, or never had it): it lost what it knew of the
        // buyers too. Rebuild that from MySQL first; until the counter is set nobody can reserve.
        const shardKeys = allShardKeys(keys, activity.id, activity.shards);
        const snapshots = await Promise.all(shardKeys.map((k) => shardSnapshot(redis, k)));
        const lost = new Set(snapshots.flatMap((s, i) => (s.loaded ? [] : [i])));
        if (lost.size > 0) {
          const [units, answers, window] = await Promise.all([
            trx.selectFrom('user_quota').select(['user_id as userId', 'quantity']).where('activity_id', '=', activity.id).execute(),
            trx
              .selectFrom('orders')
              .select(['user_id as userId', 'request_id as requestId', 'id as orderId'])
              .where('activity_id', '=', activity.id)
              .where('duplicate_of', '=', '0')
              .orderBy('id')
              .execute(),
            trx.selectFrom('activities').select('end_at').where('id', '=', activity.id).executeTakeFirstOrThrow(),
          ]);
          const ttlSeconds = Math.max(60, Math.ceil((window.end_at.getTime() - Date.now()) / 1000) + ANSWER_GRACE_SECONDS);
          await rememberBuyers(redis, keys, activity.id, { units, answers, ttlSeconds }, activity.shards, lost);
        }
        if (shardKeys.length === 1) return loadShard(redis, shardKeys[0]!, activity.segments, row.available);
        // Sharded (issue #11): what MySQL can still honour, less every shard's in-flight, transit
        // and held units as snapshot, is spread over the shards; shard i's quota is its snapshot
        // plus its share, and its load subtracts what it holds NOW, so reservations continuing on
        // other shards between these calls are neither lost nor counted twice (see load-5.lua).
        const outside = snapshots.reduce((n, s) => n + s.inFlight + s.transit + s.held, 0);
        const free = Math.max(0, row.available - outside);
        const base = Math.floor(free / shardKeys.length);
        const extra = free % shardKeys.length;
        const segments = shardSegments(activity.segments, shardKeys.length);
        const total: LoadResult = { before: -1, after: 0, inFlight: 0 };
        for (const [i, k] of shardKeys.entries()) {
          const s = snapshots[i]!;
          const quota = s.inFlight + s.held + base + (i < extra ? 1 : 0);
          const r = await loadShard(redis, k, segments, quota);
          if (r.before >= 0) total.before = Math.max(0, total.before) + r.before;
          total.after += r.after;
          total.inFlight += r.inFlight;
        }
        return total;
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
          remaining(redis, keys, activity.id, activity.shards),
          listReservations(redis, keys, activity.id, activity.shards).then((all) => all.map((r) => r.orderId)),
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
