/**
 * Moves an activity's sellable units between MySQL (the truth) and Redis (the gate):
 * preheat/reconcile load Redis from MySQL holding every stock slot of the activity; stats read both sides.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/client.ts';
import { findActivity, findSaleRules, listOpenActivities } from '../db/repositories/catalog.ts';
import { countOrdersByStatus, countOrdersWithRows, listRequestAnswers } from '../db/repositories/orders.ts';
import { listQuotas, lockStock } from '../db/repositories/stock.ts';
import { inTransaction } from '../db/tx.ts';
import { ORDER_STATUSES, type OrderStatus } from '../domain/order.ts';
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { ANSWER_GRACE_SECONDS } from '../domain/order.ts';
import type { RedisClient } from '../redis/client.ts';
import type { ActivityKeys, Keys } from '../redis/keys.ts';
import type { Logger } from '../platform/log.ts';
import { listReservations, LOST_RESERVATION_CHECK_MS } from '../redis/reservations.ts';
import { allShardKeys, shardSegments } from '../redis/shards.ts';
import { clearTransit, liftLoadFence, listTransit, raiseLoadFence, stealGive } from '../redis/transfers.ts';
import { type LoadResult, loadShard, remaining, rememberBuyers, shardSnapshot } from '../redis/stock.ts';
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
   * Every stock slot is held FOR UPDATE meanwhile, so no worker can commit an order in between and
   * Redis never ends up offering more than MySQL has. Idempotent.
   *
   * When Redis lost the activity and the sale has started, reservations may still be in Kafka: it
   * waits for the order pipeline to drain first and, if it does not within DRAIN_WAIT_MS, throws
   * BUSY and loads nothing (see drainBeforeRebuild). `pipeline: 'empty'` says nothing can be in
   * flight (an activity just created).
   */
  loadFromTruth(activity: Pick<Activity, 'id' | 'segments' | 'shards'>, options?: { pipeline?: 'may-hold-reservations' | 'empty' }): Promise<LoadResult>;
  /**
   * The order worker's clamp, after MySQL refused what Redis let through: a gate Redis still holds
   * is set to the truth at once; a gate Redis lost is left alone (returns undefined), because the
   * worker is the pipeline a rebuild must wait for, with more of this sale's reservations perhaps
   * behind the batch it is on. The next purchase, sweep or preheat rebuilds it once drained.
   */
  clampToTruth(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<LoadResult | undefined>;
  stats(activity: Pick<Activity, 'id' | 'stock' | 'shards'>): Promise<ActivityStats>;
  /**
   * Re-loads every open activity whose counter is missing from Redis (Redis here keeps nothing on
   * disk, so a restart empties the gate); returns what it re-loaded.
   */
  reloadMissing(): Promise<Array<{ activityId: string; remaining: number }>>;
}

/** How long a rebuild waits for the order pipeline to drain before it answers BUSY (and loads nothing). */
const DRAIN_WAIT_MS = 10_000;

/** How long a rebuild gives API processes to write back the reservations they are still publishing. */
const RESTORE_GRACE_MS = 3 * LOST_RESERVATION_CHECK_MS;

/** How long a sharded load lets transfers already under way finish (one Redis round trip each). */
const TRANSFER_WAIT_MS = 1000;

/** A position in the order topic: per partition, the offset the next message will get. */
export type PipelineMark = ReadonlyMap<number, bigint>;

/** The order pipeline as a rebuild sees it. */
export interface OrderPipeline {
  /** Where the topic ends now: every reservation published so far lies below it. */
  mark(): Promise<PipelineMark>;
  /** Whether the order worker has persisted (committed) everything below `mark`. */
  passed(mark: PipelineMark): Promise<boolean>;
}

export interface InventoryOptions {
  orderPipeline?: OrderPipeline;
  /** How long a rebuild waits for the pipeline to drain before answering BUSY [DRAIN_WAIT_MS]. */
  drainWaitMs?: number;
  log?: Logger;
}

export function createInventory(db: Db, redis: RedisClient, keys: Keys, soldOut: SoldOutFlags, options: InventoryOptions = {}): Inventory {
  /** Whether Redis holds every shard's counter: only their existence, cheap enough before every load. */
  async function holdsEveryShard(activity: Pick<Activity, 'id' | 'shards'>): Promise<boolean> {
    const loaded = await Promise.all(allShardKeys(keys, activity.id, activity.shards).map((k) => redis.exists(k.remaining)));
    return loaded.every((n) => n === 1);
  }

  /**
   * Each activity this process saw lost: when (the restore grace counts from then), and the end of
   * the order topic taken after the loss (the first time Kafka answered).
   */
  const losses = new Map<string, { noticedAt: number; mark?: PipelineMark }>();
  const noticeLoss = (activityId: string) => {
    const loss = losses.get(activityId) ?? { noticedAt: Date.now() };
    losses.set(activityId, loss);
    return loss;
  };

  /** Whether the worker has persisted everything published before the loss (false while Kafka is away). */
  async function drainedSince(pipeline: OrderPipeline, loss: { mark?: PipelineMark }): Promise<boolean> {
    try {
      loss.mark ??= await pipeline.mark();
      return await pipeline.passed(loss.mark);
    } catch {
      return false;
    }
  }

  /**
   * Redis lost an activity that has sold: reservations already in Kafka are then in neither Redis
   * nor MySQL, and a rebuild from MySQL alone would offer their units and their buyers' limits
   * again: more 202s than units (the later orders FAILED OUT_OF_STOCK). Let the worker persist
   * them first: everything below the topic's end as it was after the loss. Nothing of this
   * activity is published after that (its gate is gone; what API processes were still publishing
   * is written back, below), so other sales selling meanwhile cannot hold the rebuild off. Waits
   * outside the stock slot locks (the worker needs one). A pipeline that does not get there in time
   * (the worker down, Kafka away, or the worker minutes behind the crowd) is answered BUSY and
   * nothing is loaded: the caller retries (a buyer after Retry-After, the sweep on its next round),
   * for as long as the outage lasts.
   */
  async function drainBeforeRebuild(activity: Pick<Activity, 'id' | 'shards'>): Promise<void> {
    const pipeline = options.orderPipeline;
    if (!pipeline || (await holdsEveryShard(activity))) return;
    const loss = noticeLoss(activity.id);
    // MySQL's stock row cannot tell: with the worker behind (restarting, or slower than the crowd)
    // a sale can have every unit reserved and in Kafka while MySQL still shows the full stock. Only
    // a sale that has not started yet surely has nothing in flight.
    const row = await findActivity(db, activity.id);
    if (!row || row.startAt.getTime() > Date.now()) return;
    const deadline = Date.now() + (options.drainWaitMs ?? DRAIN_WAIT_MS);
    while (!(await drainedSince(pipeline, loss))) {
      if (Date.now() > deadline) {
        options.log?.warn({ activityId: activity.id }, 'order pipeline still busy; the Redis gate is not rebuilt from MySQL until it drains');
        throw new AppError('BUSY', "this sale's reservations are still being persisted, retry shortly", { retryAfter: 1 });
      }
      await sleep(200);
    }
    // Drained: what Kafka had is in MySQL. What API processes are still publishing is not in
    // Kafka yet; each writes such a reservation back within a check or two of the loss (see
    // unsettled-publishes.ts), so the count below subtracts it.
    await sleep(Math.max(0, loss.noticedAt + RESTORE_GRACE_MS - Date.now()));
  }

  /**
   * Runs a sharded load with no unit moving between shards. The shards are read and set one after
   * the other (in a cluster they live on different nodes), so a steal finishing in between would be
   * counted twice: taken on a donor already set from MySQL, given on top of a receiver set after.
   * Every shard is fenced first (a take answers "busy" meanwhile), transfers already under way are
   * let finish, and one in transit for longer than TRANSFER_WAIT_MS (its caller stalled or died)
   * is voided, so a late give adds nothing and the load counts its units where MySQL has them.
   */
  async function withTransfersStopped<T>(shardKeys: ActivityKeys[], load: () => Promise<T>): Promise<T> {
    if (shardKeys.length === 1) return load();
    try {
      let transit = await Promise.all(shardKeys.map((k) => raiseLoadFence(redis, k)));
      const deadline = Date.now() + TRANSFER_WAIT_MS;
      const underWay = () => transit.some((list) => list.some((t) => t.takenAtMs > Date.now() - TRANSFER_WAIT_MS));
      while (underWay() && Date.now() < deadline) {
        await sleep(10);
        transit = await Promise.all(shardKeys.map((k) => listTransit(redis, k)));
      }
      // Voided on the receiver first: a give landing after this finds its marker and adds nothing.
      for (const [i, list] of transit.entries()) {
        for (const transfer of list) {
          const receiver = shardKeys[transfer.toShard];
          if (receiver) await stealGive(redis, receiver, { transferId: transfer.transferId, units: transfer.units, segments: 1, void: true });
          await clearTransit(redis, shardKeys[i]!, transfer.transferId);
        }
      }
      return await load();
    } finally {
      await Promise.all(shardKeys.map((k) => liftLoadFence(redis, k))).catch(() => {});
    }
  }

  /**
   * The load itself, every stock slot held. `rebuildLost` false: if Redis lost any shard of the
   * activity, nothing is loaded and the answer is undefined (clampToTruth).
   */
  async function loadUnderLock(activity: Pick<Activity, 'id' | 'segments' | 'shards'>, rebuildLost: boolean): Promise<LoadResult | undefined> {
    const shardKeys = allShardKeys(keys, activity.id, activity.shards);
    const result = await inTransaction(db, async (trx): Promise<LoadResult | undefined> => {
      const row = await lockStock(trx, activity.id);
      if (!row) throw new Error(`activity ${activity.id} has no stock rows`);
      return withTransfersStopped(shardKeys, () => loadShards(trx, activity, shardKeys, row.available, rebuildLost));
    });
    if (result && result.after > Math.max(0, result.before)) await soldOut.announceReturned(activity.id);
    return result;
  }

  async function loadShards(
    trx: Db,
    activity: Pick<Activity, 'id' | 'segments' | 'shards'>,
    shardKeys: ActivityKeys[],
    available: number,
    rebuildLost: boolean,
  ): Promise<LoadResult | undefined> {
    // Redis lost the activity (restarted empty, or never had it): it lost what it knew of the
    // buyers too. Rebuild that from MySQL first; until the counter is set nobody can reserve.
    const snapshots = await Promise.all(shardKeys.map((k) => shardSnapshot(redis, k)));
    const lost = new Set(snapshots.flatMap((s, i) => (s.loaded ? [] : [i])));
    if (lost.size > 0 && !rebuildLost) return undefined;
    if (lost.size > 0) {
      // Reservations written back on the lost shards since the loss (their publish is
      // unacknowledged, so they are in neither MySQL nor its counts): their buyers hold those units too.
      const written = [...lost].flatMap((i) => snapshots[i]!.reservations);
      const [units, answers, rules, pending] = await Promise.all([
        listQuotas(trx, activity.id),
        listRequestAnswers(trx, activity.id),
        findSaleRules(trx, activity.id),
        Promise.all([...lost].map((i) => redis.hkeys(shardKeys[i]!.pending))).then((ids) => new Set(ids.flat())),
      ]);
      if (!rules) throw new Error(`activity ${activity.id} has no row`);
      const ttlSeconds = Math.max(60, Math.ceil((rules.endAt.getTime() - Date.now()) / 1000) + ANSWER_GRACE_SECONDS);
      const memory = {
        units: [...units, ...written],
        answers: [...answers, ...written.map((r) => ({ ...r, pending: pending.has(r.orderId) }))],
        ttlSeconds,
      };
      await rememberBuyers(redis, keys, activity.id, memory, activity.shards, lost);
    }
    if (shardKeys.length === 1) return loadShard(redis, shardKeys[0]!, activity.segments, available);
    // Sharded: what MySQL can still honour, less every shard's in-flight and held units as
    // snapshot, is spread over the shards; shard i's quota is its snapshot plus its share, and
    // its load subtracts what it holds NOW, so reservations continuing on any shard between
    // these calls are neither lost nor counted twice (see load-5.lua). Nothing is in transit.
    const outside = snapshots.reduce((n, s) => n + s.inFlight + s.transit + s.held, 0);
    const free = Math.max(0, available - outside);
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
  }

  const inventory: Inventory = {
    async reloadMissing() {
      const reloaded: Array<{ activityId: string; remaining: number }> = [];
      const lost = [];
      for (const activity of await listOpenActivities(db, new Date())) if (!(await holdsEveryShard(activity))) lost.push(activity);
      // All noticed at once, so their restore graces run together, not one after the other.
      for (const activity of lost) noticeLoss(activity.id);
      for (const activity of lost) {
        try {
          const { after } = await inventory.loadFromTruth(activity);
          reloaded.push({ activityId: activity.id, remaining: after });
        } catch (error) {
          // Its pipeline has not drained: the next round tries again; the other activities go on.
          if (!(error instanceof AppError && error.code === 'BUSY')) throw error;
        }
      }
      return reloaded;
    },

    async loadFromTruth(activity, { pipeline = 'may-hold-reservations' } = {}) {
      if (pipeline === 'may-hold-reservations') await drainBeforeRebuild(activity);
      const loaded = (await loadUnderLock(activity, true))!;
      losses.delete(activity.id);
      return loaded;
    },

    clampToTruth: (activity) => loadUnderLock(activity, false),

    async stats(activity) {
      // One consistent picture: holding every stock slot, no worker is between settling its
      // reservations in Redis and committing their rows, so every order is counted exactly once.
      return inTransaction(db, async (trx) => {
        const stock = await lockStock(trx, activity.id);
        if (!stock) throw new Error(`activity ${activity.id} has no stock rows`);
        const [counts, redisRemaining, reserved] = await Promise.all([
          countOrdersByStatus(trx, activity.id),
          remaining(redis, keys, activity.id, activity.shards),
          listReservations(redis, keys, activity.id, activity.shards).then((all) => all.map((r) => r.orderId)),
        ]);
        const orders = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
        for (const { status, count } of counts) orders[status] = count;
        // QUEUED orders have no row yet: the reservations without one (a FAILED order's entry
        // lingers until the worker releases it after its commit, and must not count twice).
        orders.QUEUED = reserved.length - (await countOrdersWithRows(trx, reserved));
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
