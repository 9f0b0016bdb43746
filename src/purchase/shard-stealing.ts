/**
 * A sharded activity's reservation: ask the buyer's home shard; when it is short, steal units from
 * shards this instance does not believe empty (take on the donor, give on the home shard, forget the
 * transit: no step can create a unit) and ask the home shard again. Only when no shard had units to
 * give is the home shard asked for the final answer (SOLD_OUT is stored there, or "busy" while
 * publishes are unconfirmed on any shard asked). Each process remembers the shards it saw empty,
 * so a sold-out sale costs no Redis call.
 */
import type { Activity } from '../domain/activity.ts';
import type { RedisBreaker } from '../guard/redis-breaker.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import type { RedisClient } from '../redis/client.ts';
import { type ActivityKeys, homeShard, type Keys } from '../redis/keys.ts';
import type { ReserveInput, ReserveResult } from '../redis/reservations.ts';
import { homeKeys, shardSegments } from '../redis/shards.ts';
import { clearTransit, stealGive, stealTake } from '../redis/transfers.ts';

export interface ShardStealingDeps {
  redis: RedisClient;
  keys: Keys;
  soldOut: SoldOutFlags;
  redisBreaker?: RedisBreaker;
  now: () => number;
  /**
   * Reserves on the buyer's home shard. A shard Redis lost answers 'not-preheated', which goes back
   * to the caller: it rebuilds the activity outside the circuit and asks again (reservation.ts).
   */
  askHome(input: ReserveInput): Promise<ReserveResult>;
}

export function createShardStealing(deps: ShardStealingDeps) {
  const { redis, keys, soldOut, now, askHome } = deps;

  /**
   * A call on a donor shard through its node's circuit; undefined when that node is unreachable, so
   * a failed master costs its own shards' units, never the home shard's buyer an error (a take that
   * failed midway leaves units in transit, which reconciliation finishes).
   */
  async function onDonor<T>(donor: ActivityKeys, fn: () => Promise<T>): Promise<T | undefined> {
    const breaker = deps.redisBreaker;
    if (breaker && !breaker.isClosed(donor.remaining)) return undefined;
    try {
      return await (breaker ? breaker.run(fn, donor.remaining) : fn());
    } catch {
      return undefined;
    }
  }

  async function reserveSharded(activity: Activity, input: ReserveInput): Promise<ReserveResult> {
    const shards = activity.shards;
    const home = homeShard(input.userId, shards);
    const ask = (shardOnly: boolean) => askHome({ ...input, shardOnly });
    let result = await ask(true);
    if (result.kind !== 'shard-empty') return result;
    soldOut.markShardEmpty(activity.id, home);
    let pendingSomewhere = result.pending > 0;
    const homeK = homeKeys(keys, activity.id, input.userId, shards);
    const segments = shardSegments(activity.segments, shards);
    // Donors in a random order from a random start, so thieves spread over the full shards.
    const start = Math.floor(Math.random() * shards);
    for (let step = 0; step < shards; step++) {
      const donor = (start + step) % shards;
      if (donor === home || soldOut.shardEmpty(activity.id, donor)) continue;
      const donorK = keys.shard(activity.id, shards, donor);
      const transferId = `${input.orderId}.${donor}`;
      const took = await onDonor(donorK, () => stealTake(redis, donorK, { transferId, want: input.quantity, nowMs: now(), toShard: home }));
      if (!took) {
        // The donor's node is down: it may still hold units, so the final answer is "busy", not SOLD_OUT.
        pendingSomewhere = true;
        continue;
      }
      const { taken, pending } = took;
      pendingSomewhere ||= pending > 0;
      // The donor's shard was lost: the whole activity is rebuilt by the caller, then asked again.
      if (taken === -3) return { kind: 'not-preheated' };
      // A load is recounting the activity and holds its units still: they may be for this buyer.
      if (taken === -6) {
        pendingSomewhere = true;
        continue;
      }
      if (taken <= 0) {
        soldOut.markShardEmpty(activity.id, donor);
        continue;
      }
      const given = await stealGive(redis, homeK, { transferId, units: taken, segments });
      // Best effort: a transit entry left behind (donor unreachable now) is cleared by reconciliation.
      await onDonor(donorK, () => clearTransit(redis, donorK, transferId));
      if (given.outcome !== 'given') continue;
      soldOut.markShardHolding(activity.id, home);
      // Units left over on the home shard after this buyer: instances that marked it empty must look again.
      if (given.remaining > input.quantity) void soldOut.announceReturned(activity.id).catch(() => {});
      result = await ask(true);
      if (result.kind !== 'shard-empty') return result;
      pendingSomewhere ||= result.pending > 0;
    }
    if (pendingSomewhere) return { kind: 'busy' };
    return ask(false);
  }

  return { reserveSharded };
}
