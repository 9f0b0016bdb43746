/**
 * Activity definitions for the hot path, from a process-local cache in front of MySQL:
 * single-flight (one query per id per instance however many requests wait), cached misses
 * (unknown ids do not reach MySQL again within the negative TTL), jittered TTLs (entries made
 * together do not expire together), and pub/sub invalidation when an admin changes an activity.
 */
import { findActivity } from '../db/repositories/catalog.ts';
import type { Db } from '../db/client.ts';
import type { Activity } from '../domain/activity.ts';
import type { PubSub } from './pubsub.ts';

const TTL_MS = 1000;
const NEGATIVE_TTL_MS = 2000;
const JITTER = 0.2;

interface Entry {
  value: Activity | undefined;
  expiresAt: number;
}

export interface ActivityCache {
  get(id: string): Promise<Activity | undefined>;
  /** Drops the id here and on every other instance. */
  invalidate(id: string): Promise<void>;
}

export async function createActivityCache(db: Db, pubsub: PubSub, channel: string, now: () => number = Date.now): Promise<ActivityCache> {
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<Activity | undefined>>();
  await pubsub.subscribe(channel, (id) => entries.delete(id));

  const ttl = (base: number) => base * (1 - JITTER + Math.random() * 2 * JITTER);

  return {
    get(id) {
      const entry = entries.get(id);
      if (entry && entry.expiresAt > now()) return Promise.resolve(entry.value);
      let pending = loading.get(id);
      if (!pending) {
        pending = findActivity(db, id).then(
          (value) => {
            entries.set(id, { value, expiresAt: now() + ttl(value ? TTL_MS : NEGATIVE_TTL_MS) });
            loading.delete(id);
            return value;
          },
          (error: unknown) => {
            loading.delete(id);
            throw error;
          },
        );
        loading.set(id, pending);
      }
      return pending;
    },
    async invalidate(id) {
      entries.delete(id);
      await pubsub.publish(channel, id);
    },
  };
}
