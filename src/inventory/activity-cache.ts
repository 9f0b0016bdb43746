/**
 * The activity read path (docs/design.md, "Reading path"): a process-local cache (tens of ms) → the
 * detail JSON in Redis (shared by instances) → MySQL. Single-flight: one rebuild per id per
 * instance however many requests wait, so a cold hot activity costs MySQL one query per instance.
 * Unknown ids are cached as "not found" locally and in Redis (penetration); every TTL is jittered
 * so entries made together do not expire together (avalanche). A write goes to MySQL first, then
 * `invalidate` deletes the Redis copy and tells every instance to drop its local one, and deletes
 * again ~500 ms later: a reader that fetched the old row before the write committed and stored it
 * after the first delete is thereby undone (the read-during-write race).
 *
 * Redis trouble never fails a read: it is skipped (fast: not connected → not asked) for MySQL,
 * and if MySQL fails too a stale local copy is served. An expired local copy is served while it
 * is refreshed, so no request waits for a refresh.
 */
import type { Db } from '../db/client.ts';
import { findActivity } from '../db/repositories/catalog.ts';
import { findStock } from '../db/repositories/stock.ts';
import type { Activity } from '../domain/activity.ts';
import { WAITING_ROOM_OFF } from '../domain/waiting-room.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { remaining as redisRemaining } from '../redis/stock.ts';
import type { PubSub } from '../platform/pubsub.ts';
import { withRedisTimeout } from '../platform/timeouts.ts';

const LOCAL_TTL_MS = 50;
const NEGATIVE_TTL_MS = 2000;
const REDIS_TTL_MS = 60_000;
const REMAINING_TTL_MS = 50;
const SECOND_DELETE_MS = 500;
const REDIS_TIMEOUT_MS = 200;
const JITTER = 0.2;
const MAX_ENTRIES = 100_000;
/** The Redis value of an id MySQL does not know. */
const MISSING = 'null';

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export interface ActivityCache {
  get(id: string): Promise<Activity | undefined>;
  /** Units Redis still offers (≥ 0), cached a few tens of ms; MySQL's `available` if Redis is down. */
  remaining(id: string): Promise<number>;
  /** Drops the id in Redis and on every instance (now, and again shortly after). */
  invalidate(id: string): Promise<void>;
  close(): void;
}

export interface ActivityCacheOptions {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  pubsub: PubSub;
  channel: string;
  /** The MySQL read (injectable: tests count the queries). */
  loadFromDb?: (id: string) => Promise<Activity | undefined>;
  now?: () => number;
  /** Hit rate and rebuilds (seckill_activity_cache_*): a falling hit rate means MySQL takes the reads. */
  metrics?: Pick<Metrics, 'activityCacheLookups' | 'activityCacheLoads'>;
  localTtlMs?: number;
  negativeTtlMs?: number;
}

const jittered = (base: number) => Math.round(base * (1 - JITTER + Math.random() * 2 * JITTER));

function serialize(activity: Activity | undefined): string {
  return activity ? JSON.stringify(activity) : MISSING;
}

function deserialize(text: string): Activity | undefined {
  if (text === MISSING) return undefined;
  const raw = JSON.parse(text) as Activity & { startAt: string; endAt: string };
  // A detail cached by a version without shards means one shard.
  return {
    ...raw,
    shards: raw.shards ?? 1,
    paused: raw.paused ?? false,
    waitingRoom: raw.waitingRoom ?? WAITING_ROOM_OFF,
    startAt: new Date(raw.startAt),
    endAt: new Date(raw.endAt),
  };
}

/** One promise per key while it is being loaded: concurrent callers share it. */
function singleFlight<T>() {
  const pending = new Map<string, Promise<T>>();
  return (key: string, load: () => Promise<T>): Promise<T> => {
    let p = pending.get(key);
    if (!p) {
      p = load().finally(() => pending.delete(key));
      pending.set(key, p);
    }
    return p;
  };
}

export async function createActivityCache(options: ActivityCacheOptions): Promise<ActivityCache> {
  const { db, redis, keys, pubsub, channel } = options;
  const now = options.now ?? Date.now;
  const loadFromDb = options.loadFromDb ?? ((id: string) => findActivity(db, id));
  const localTtl = options.localTtlMs ?? LOCAL_TTL_MS;
  const negativeTtl = options.negativeTtlMs ?? NEGATIVE_TTL_MS;
  const entries = new Map<string, Entry<Activity | undefined>>();
  const counts = new Map<string, Entry<number>>();
  /** Bumped by every invalidation: a load that started before it must not store what it read. */
  const generations = new Map<string, number>();
  const activityFlight = singleFlight<Activity | undefined>();
  const remainingFlight = singleFlight<number>();
  const timers = new Set<NodeJS.Timeout>();
  // Children made once: the hit path stays a counter increment.
  const hits = options.metrics?.activityCacheLookups.labels('hit');
  const misses = options.metrics?.activityCacheLookups.labels('miss');
  const loadsFromRedis = options.metrics?.activityCacheLoads.labels('redis');
  const loadsFromMysql = options.metrics?.activityCacheLoads.labels('mysql');

  const usable = () => redis.status === 'ready';
  const drop = (id: string) => {
    entries.delete(id);
    generations.set(id, (generations.get(id) ?? 0) + 1);
  };
  await pubsub.subscribe(channel, drop);

  async function fromRedis(id: string): Promise<string | null> {
    if (!usable()) return null;
    try {
      return await withRedisTimeout(redis.get(keys.activity(id).detail), REDIS_TIMEOUT_MS);
    } catch {
      return null;
    }
  }

  async function load(id: string): Promise<Activity | undefined> {
    const generation = generations.get(id) ?? 0;
    const cached = await fromRedis(id);
    let value: Activity | undefined;
    if (cached !== null) {
      loadsFromRedis?.inc();
      value = deserialize(cached);
    } else {
      loadsFromMysql?.inc();
      try {
        value = await loadFromDb(id);
      } catch (error) {
        const stale = entries.get(id);
        if (stale) return stale.value;
        throw error;
      }
      if (usable() && generation === (generations.get(id) ?? 0)) {
        const ttl = jittered(value ? REDIS_TTL_MS : negativeTtl);
        redis.set(keys.activity(id).detail, serialize(value), 'PX', ttl).catch(() => {});
      }
    }
    if (generation === (generations.get(id) ?? 0)) {
      // Bounded under a flood of distinct unknown ids: forgetting only costs a reload.
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(id, { value, expiresAt: now() + jittered(value ? localTtl : negativeTtl) });
    }
    return value;
  }

  async function loadRemaining(id: string): Promise<number> {
    let left: number | undefined;
    try {
      if (usable()) {
        const shards = (await getActivity(id))?.shards ?? 1;
        left = await withRedisTimeout(redisRemaining(redis, keys, id, shards), REDIS_TIMEOUT_MS);
      }
    } catch {
      left = undefined;
    }
    if (left === undefined) {
      // Not loaded in Redis, or Redis down: the last value we saw, else MySQL's truth.
      const last = counts.get(id);
      if (last) return last.value;
      const row = await findStock(db, id);
      left = row ? Number(row.available) : 0;
    }
    const value = Math.max(0, left);
    counts.set(id, { value, expiresAt: now() + jittered(REMAINING_TTL_MS) });
    return value;
  }

  async function deleteEverywhere(id: string): Promise<void> {
    drop(id);
    await redis.del(keys.activity(id).detail);
    await pubsub.publish(channel, id);
  }

  /**
   * An entry past its TTL is served while one refresh runs (single-flight): no request waits for
   * the refresh. Otherwise every expiry stalled every request of a hot activity for a Redis round
   * trip, and while Redis hangs for its whole timeout (200 ms) — purchases answered BUSY at once
   * by the open Redis breaker then still took ~120 ms at p50. An invalidation drops the entry, so
   * an edit is never served stale; only an entry no write has touched is, for one refresh.
   * (Activity details only: see `remaining`.)
   */
  function staleWhileRefreshing<T>(entry: Entry<T> | undefined, refresh: () => Promise<T>): Promise<T> {
    const fresh = refresh();
    if (!entry) return fresh;
    fresh.catch(() => {});
    return Promise.resolve(entry.value);
  }

  function getActivity(id: string): Promise<Activity | undefined> {
    const entry = entries.get(id);
    if (entry && entry.expiresAt > now()) {
      hits?.inc();
      return Promise.resolve(entry.value);
    }
    misses?.inc();
    return staleWhileRefreshing(entry, () => activityFlight(id, () => load(id)));
  }

  return {
    get: getActivity,
    remaining(id) {
      const entry = counts.get(id);
      if (entry && entry.expiresAt > now()) return Promise.resolve(entry.value);
      // Not served stale: no write drops a count, so a stale one could be from any time ago (a
      // sale read once at creation would show its full stock after it sold out); a read of the
      // count is off the purchase path and may wait for its refresh.
      return remainingFlight(id, () => loadRemaining(id));
    },
    async invalidate(id) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        deleteEverywhere(id).catch(() => {});
      }, SECOND_DELETE_MS);
      timer.unref();
      timers.add(timer);
      await deleteEverywhere(id);
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
