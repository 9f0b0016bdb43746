/**
 * Where an activity's keys live: its stock is split over `shards` hash tags (keys.ts), each buyer
 * has a home shard, and each shard's units are spread over segments. Every script wrapper places its
 * keys through these, so one user's keys always meet on one slot.
 */
import type { RedisClient } from './client.ts';
import { type ActivityKeys, homeShard, type Keys } from './keys.ts';

/** Segments inside one shard: an activity's `segments` are folded into its shards. */
export function shardSegments(segments: number, shards: number): number {
  return Math.max(1, Math.ceil(segments / Math.max(1, shards)));
}

/** The keys of the user's home shard (N = 1: the activity's keys). */
export function homeKeys(keys: Keys, activityId: string, userId: string, shards = 1): ActivityKeys {
  return keys.shard(activityId, shards, homeShard(userId, shards));
}

/** Every shard's keys, in index order. */
export function allShardKeys(keys: Keys, activityId: string, shards = 1): ActivityKeys[] {
  return Array.from({ length: Math.max(1, shards) }, (_, i) => keys.shard(activityId, shards, i));
}

/** A segment to put returned units in: any one will do (reservations take from random ones). */
export const randomSegment = (segments: number) => Math.floor(Math.random() * segments);

type Pipeline = ReturnType<RedisClient['pipeline']>;

/**
 * Sends one command group per item, pipelined in chunks, one pipeline per shard: a Redis Cluster
 * refuses a pipeline whose keys span slots, and each shard is one hash tag, so one slot.
 */
export async function perShard<T>(redis: RedisClient, items: T[], shardOf: (item: T) => number, add: (pipeline: Pipeline, item: T) => void): Promise<void> {
  const CHUNK = 1000;
  const byShard = Map.groupBy(items, shardOf);
  for (const list of byShard.values()) {
    for (let i = 0; i < list.length; i += CHUNK) {
      const pipeline = redis.pipeline();
      for (const item of list.slice(i, i + CHUNK)) add(pipeline, item);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    }
  }
}
