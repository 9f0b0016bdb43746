/**
 * Moving units between two shards of one activity (a steal, or a waitlist unit on its way to the
 * buyer's home shard): take into the donor's `transit` hash (stealTake-5.lua), give on the
 * receiver at most once per transfer id (stealGive-3.lua), then forget the transit entry. No step
 * creates a unit; a crash in between strands units in transit, where reconciliation finds them.
 * The only module that builds these scripts' KEYS and ARGV.
 */
import type { RedisClient } from './client.ts';
import type { ActivityKeys } from './keys.ts';
import { runCall, type ScriptCall } from './scripts.ts';
import { randomSegment } from './shards.ts';

/** How long a transfer's once-only marker lives on the receiving shard: far beyond any crash to repair. */
export const TRANSFER_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/**
 * stealTake-5.lua on the donor: {taken, pending}; taken -3 when the donor is not loaded, -6 while a
 * load of the activity is under way (nothing taken: the caller answers "busy").
 */
export async function stealTake(
  redis: RedisClient,
  donor: ActivityKeys,
  input: { transferId: string; want: number; nowMs: number; toShard: number },
): Promise<{ taken: number; pending: number }> {
  const [taken, pending] = await runCall<[number, number]>(redis, {
    name: 'stealTake',
    keys: [donor.nonEmpty, donor.remaining, donor.transit, donor.pending, donor.loading],
    args: [donor.segmentPrefix, input.transferId, input.want, input.nowMs, input.toShard],
  });
  return { taken, pending };
}

export type GiveOutcome = 'given' | 'voided' | 'already' | 'not-loaded';
const GIVE_OUTCOMES: Record<string, GiveOutcome> = { '1': 'given', '2': 'voided', '0': 'already', '-3': 'not-loaded' };

/** stealGive-3.lua on the receiver, the units going to `segment`: adds them at most once per transfer (or voids it). */
export function stealGiveCall(receiver: ActivityKeys, input: { transferId: string; units: number; segment: number; void?: boolean }): ScriptCall {
  return {
    name: 'stealGive',
    keys: [receiver.nonEmpty, receiver.remaining, receiver.given(input.transferId)],
    args: [receiver.segmentPrefix, input.segment, input.units, TRANSFER_MARKER_TTL_SECONDS, input.void ? 1 : 0],
  };
}

/** Adds a transfer's units to a random one of the receiver's `segments`, at most once (or voids the transfer). */
export async function stealGive(
  redis: RedisClient,
  receiver: ActivityKeys,
  input: { transferId: string; units: number; segments: number; void?: boolean },
): Promise<{ outcome: GiveOutcome; remaining: number }> {
  const [code, left] = await runCall<[number, number]>(redis, stealGiveCall(receiver, { ...input, segment: randomSegment(input.segments) }));
  return { outcome: GIVE_OUTCOMES[String(code)] ?? 'already', remaining: Number(left) };
}

export interface Transfer {
  transferId: string;
  units: number;
  takenAtMs: number;
  toShard: number;
}

/** A shard's transfers still in transit. */
export async function listTransit(redis: RedisClient, k: ActivityKeys): Promise<Transfer[]> {
  const all = await redis.hgetall(k.transit);
  return Object.entries(all).map(([transferId, value]) => {
    const [units = '0', takenAtMs = '0', toShard = '0'] = value.split('|');
    return { transferId, units: Number(units), takenAtMs: Number(takenAtMs), toShard: Number(toShard) };
  });
}

/** The transfer reached its receiver (given or voided): the donor forgets it. */
export async function clearTransit(redis: RedisClient, donor: ActivityKeys, transferId: string): Promise<void> {
  await redis.hdel(donor.transit, transferId);
}

/** How long a load's fence stands at most: a loader that dies mid-load leaves it behind this long. */
const LOAD_FENCE_MS = 30_000;

/**
 * A load is about to recount the activity from MySQL: from now on nothing leaves this shard for
 * another (stealTake and waitlistTake answer -6) until liftLoadFence. Returns the transfers already
 * under way from it, which the loader lets finish (or voids) before it counts.
 */
export async function raiseLoadFence(redis: RedisClient, k: ActivityKeys): Promise<Transfer[]> {
  await redis.set(k.loading, '1', 'PX', LOAD_FENCE_MS);
  return listTransit(redis, k);
}

export async function liftLoadFence(redis: RedisClient, k: ActivityKeys): Promise<void> {
  await redis.del(k.loading);
}
