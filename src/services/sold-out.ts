/**
 * Process-local "sold out" flags: once Redis said SOLD_OUT, this instance stops running the
 * reserve script for the activity. A pub/sub message clears the flag on every instance when units
 * come back; the short TTL bounds the damage if that message is ever lost (a flag that never
 * cleared would undersell).
 */
import type { PubSub } from './pubsub.ts';

const FLAG_TTL_MS = 2000;

export interface SoldOutFlags {
  isSoldOut(activityId: string): boolean;
  mark(activityId: string): void;
  /** Tells every instance (this one included) that the activity has units again. */
  announceReturned(activityId: string): Promise<void>;
}

export async function createSoldOutFlags(pubsub: PubSub, channel: string, now: () => number = Date.now): Promise<SoldOutFlags> {
  const flags = new Map<string, number>();
  await pubsub.subscribe(channel, (activityId) => flags.delete(activityId));
  return {
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
      await pubsub.publish(channel, activityId);
    },
  };
}
