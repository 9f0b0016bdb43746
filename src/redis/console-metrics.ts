/**
 * Metrics snapshots shared through Redis for the operator's live feed: every process of every
 * instance writes its own while someone watches, and whichever instance serves the feed reads them
 * all. A snapshot is one hash field per process, so a process that died simply stops refreshing its
 * field; readers ignore (and remove) fields older than `maxAgeMs`.
 */
import type { RedisClient } from './client.ts';
import type { Keys } from './keys.ts';

export interface MetricsSnapshot {
  /** Epoch ms when the process took it. */
  at: number;
  /** prom-client `getMetricsAsJSON()` output (only the series the console reads). */
  metrics: unknown[];
}

/** Says "an operator is watching" for `ttlMs`; each tick of a live feed renews it. */
export async function markWatched(redis: RedisClient, keys: Keys, ttlMs: number): Promise<void> {
  await redis.set(keys.consoleWatched, '1', 'PX', ttlMs);
}

export async function isWatched(redis: RedisClient, keys: Keys): Promise<boolean> {
  return (await redis.exists(keys.consoleWatched)) === 1;
}

export async function writeSnapshot(redis: RedisClient, keys: Keys, processId: string, snapshot: MetricsSnapshot): Promise<void> {
  await redis.hset(keys.consoleMetrics, processId, JSON.stringify(snapshot));
}

/** Every process's snapshot taken within `maxAgeMs`; older ones are removed. */
export async function readSnapshots(redis: RedisClient, keys: Keys, maxAgeMs: number, nowMs = Date.now()): Promise<Map<string, MetricsSnapshot>> {
  const all = await redis.hgetall(keys.consoleMetrics);
  const fresh = new Map<string, MetricsSnapshot>();
  const stale: string[] = [];
  for (const [processId, text] of Object.entries(all)) {
    let snapshot: MetricsSnapshot | undefined;
    try {
      snapshot = JSON.parse(text) as MetricsSnapshot;
    } catch {
      snapshot = undefined;
    }
    if (snapshot && typeof snapshot.at === 'number' && Array.isArray(snapshot.metrics) && nowMs - snapshot.at <= maxAgeMs) fresh.set(processId, snapshot);
    else stale.push(processId);
  }
  if (stale.length > 0) await redis.hdel(keys.consoleMetrics, ...stale);
  return fresh;
}

/** Removes this process's snapshot (a clean stop: its counts must not linger in the totals). */
export async function removeSnapshot(redis: RedisClient, keys: Keys, processId: string): Promise<void> {
  await redis.hdel(keys.consoleMetrics, processId);
}
