/**
 * Process-local "sold out" flags: once Redis said SOLD_OUT, this instance stops running the
 * reserve script for the activity. A pub/sub message clears the flag on every instance when units
 * come back; the short TTL bounds the damage if that message is ever lost (a flag that never
 * cleared would undersell).
 *
 * Sharded activities add a local view of which shards are believed empty: a buyer
 * whose home shard is short steals only from shards not marked, so an emptied sale costs few Redis
 * calls, and the activity's flag rises only once every shard is empty. The marks clear with the
 * same message and TTL as the flag.
 */
import type { PubSub } from '../platform/pubsub.ts';

const FLAG_TTL_MS = 2000;

export interface SoldOutFlags {
  isSoldOut(activityId: string): boolean;
  mark(activityId: string): void;
  /** True while this instance believes shard `shard` of the activity holds no units. */
  shardEmpty(activityId: string, shard: number): boolean;
  markShardEmpty(activityId: string, shard: number): void;
  /** A script reply showed units on the shard. */
  markShardHolding(activityId: string, shard: number): void;
  /** Tells every instance (this one included) that the activity has units again. */
  announceReturned(activityId: string): Promise<void>;
}

export async function createSoldOutFlags(pubsub: PubSub, channel: string, now: () => number = Date.now): Promise<SoldOutFlags> {
  const flags = new Map<string, number>();
  const emptyShards = new Map<string, Map<number, number>>();
  await pubsub.subscribe(channel, (activityId) => {
    flags.delete(activityId);
    emptyShards.delete(activityId);
  });
  return {
    shardEmpty(activityId, shard) {
      const until = emptyShards.get(activityId)?.get(shard);
      if (until === undefined) return false;
      if (until > now()) return true;
      emptyShards.get(activityId)?.delete(shard);
      return false;
    },
    markShardEmpty(activityId, shard) {
      let marks = emptyShards.get(activityId);
      if (!marks) {
        marks = new Map();
        emptyShards.set(activityId, marks);
      }
      marks.set(shard, now() + FLAG_TTL_MS);
    },
    markShardHolding(activityId, shard) {
      emptyShards.get(activityId)?.delete(shard);
    },
    isSoldOut(activityId) {
      const until = flags.get(activityId);
      if (until === undefined) return false;
      if (until > now()) return true;
      flags.delete(activityId);
      return false;
    },
    mark(activityId) {
      flags.set(activityId, now() + FLAG_TTL_MS);
    },
    async announceReturned(activityId) {
      flags.delete(activityId);
      emptyShards.delete(activityId);
      await pubsub.publish(channel, activityId);
    },
  };
}
