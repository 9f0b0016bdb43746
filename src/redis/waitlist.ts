/**
 * The waitlist (候补) in Redis: join (waitlistJoin-5.lua), the offer pass (waitlistOffer-6.lua), an
 * offered user's claim (waitlistClaim-8.lua, or across shards waitlistTake-5.lua then claimGive-8.lua),
 * the view and leaving. The only module that builds these scripts' KEYS and ARGV. A cancelled
 * order's restock (stock.ts) is chained here with a pass in one MULTI, so returned units reach
 * waiting users before the crowd.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './client.ts';
import { type ActivityKeys, homeShard, type Keys } from './keys.ts';
import { parseStoredAnswer, type ReserveInput, type ReserveResult } from './reservations.ts';
import { runCall, runInMulti, type ScriptCall } from './scripts.ts';
import { homeKeys, randomSegment, shardSegments } from './shards.ts';
import { restock, restockCall, type RestockInput, shardRemaining } from './stock.ts';
import { clearTransit, stealGiveCall, stealTake, TRANSFER_MARKER_TTL_SECONDS } from './transfers.ts';

/**
 * The waitlist of a sharded activity lives on shard 0, beside the open-sale units its pass takes
 * from and gives back to; with one shard these are the activity's keys.
 */
const waitlistShard = (keys: Keys, activityId: string, shards = 1): ActivityKeys => keys.shard(activityId, shards, 0);

/** A move to shard 0 that meets a load in progress asks again this often, this many times (2 s). */
const LOAD_RETRY_MS = 20;
const LOAD_RETRIES = 100;

export type JoinResult =
  | { kind: 'waiting'; position: number }
  | { kind: 'offered'; expiresAtMs: number }
  | { kind: 'not-sold-out' }
  | { kind: 'not-loaded' };

export async function waitlistJoin(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  userId: string,
  nowMs: number,
  shards = 1,
): Promise<JoinResult> {
  if (shards > 1) {
    // Only while the whole activity is sold out: the other shards are asked first (shard 0's own
    // check stays atomic with the join; a unit reaching another shard just after is sold openly).
    const others = (await shardRemaining(redis, keys, activityId, shards)).slice(1);
    if (others.some((left) => left === undefined)) return { kind: 'not-loaded' };
    if (others.some((left) => (left ?? 0) > 0)) return { kind: 'not-sold-out' };
  }
  const k = waitlistShard(keys, activityId, shards);
  const w = k.waitlist;
  const [code, value] = await runCall<[number, number]>(redis, {
    name: 'waitlistJoin',
    keys: [k.remaining, w.queue, w.seq, w.offers, w.expired],
    args: [userId, nowMs],
  });
  switch (code) {
    case 1:
      return { kind: 'waiting', position: value };
    case 2:
      return { kind: 'offered', expiresAtMs: value };
    case -1:
      return { kind: 'not-sold-out' };
    default:
      return { kind: 'not-loaded' };
  }
}

export interface OfferPass {
  /** Held units given back to open sale because nobody waits any more. */
  returnedToSale: number;
  offered: Array<{ userId: string; expiresAtMs: number }>;
  expired: string[];
}

type OfferReply = [number, string[], string[]];

function parseOffer([returnedToSale, flat, expired]: OfferReply): OfferPass {
  const offered: OfferPass['offered'] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) offered.push({ userId: String(flat[i]), expiresAtMs: Number(flat[i + 1]) });
  return { returnedToSale: Number(returnedToSale), offered, expired: expired.map(String) };
}

/** waitlistOffer-6.lua on the waitlist's shard; units given back to open sale go to a random segment. */
function offerCall(keys: Keys, activityId: string, segments: number, nowMs: number, offerMs: number, shards = 1): ScriptCall {
  const k = waitlistShard(keys, activityId, shards);
  const w = k.waitlist;
  return {
    name: 'waitlistOffer',
    keys: [k.nonEmpty, k.remaining, w.queue, w.offers, w.held, w.expired],
    args: [k.segmentPrefix, randomSegment(shardSegments(segments, shards)), nowMs, offerMs],
  };
}

/** One waitlist pass: expire offers, offer held or open units to waiting users, give back the rest. */
export async function waitlistOffer(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  segments: number,
  nowMs: number,
  offerMs: number,
  shards = 1,
): Promise<OfferPass> {
  return parseOffer(await runCall<OfferReply>(redis, offerCall(keys, activityId, segments, nowMs, offerMs, shards)));
}

/**
 * Gives a cancelled order's units back (restock, idempotent by its marker) and runs a waitlist
 * pass in the same MULTI: Redis runs both back to back, so no purchase lands between them.
 */
export async function restockAndOffer(
  redis: RedisClient,
  keys: Keys,
  input: RestockInput,
  nowMs: number,
  offerMs: number,
): Promise<{ returned: boolean; pass: OfferPass }> {
  const shards = input.shards ?? 1;
  if (shards > 1 && homeShard(input.userId, shards) !== 0) return restockAcrossShards(redis, keys, input, nowMs, offerMs);
  // The buyer's home shard is the waitlist's: the restock and the pass share one slot.
  const [returned, pass] = await runInMulti(redis, [
    restockCall(keys, input),
    offerCall(keys, input.activityId, input.segments, nowMs, offerMs, shards),
  ]);
  return { returned: Number(returned) === 1, pass: parseOffer(pass as OfferReply) };
}

/**
 * A sharded activity's cancelled order whose buyer's home shard is not the waitlist's (shard 0):
 * the units go back to the home shard (restock: idempotent, the user's count lives there); if
 * users are waiting, they are moved on to shard 0 (a steal, which never creates units) and the
 * waitlist pass runs there in the same MULTI as the give, so they are offered before open sale
 * on shard 0. (A buyer of the home shard can take them in the instant between restock and steal.)
 */
async function restockAcrossShards(
  redis: RedisClient,
  keys: Keys,
  input: RestockInput,
  nowMs: number,
  offerMs: number,
): Promise<{ returned: boolean; pass: OfferPass }> {
  const shards = input.shards ?? 1;
  const returned = await restock(redis, keys, input);
  const zero = waitlistShard(keys, input.activityId, shards);
  const empty: OfferPass = { returnedToSale: 0, offered: [], expired: [] };
  if (!returned || (await redis.zcard(zero.waitlist.queue)) === 0) return { returned, pass: empty };
  const home = homeKeys(keys, input.activityId, input.userId, shards);
  const transferId = `r${input.orderId}.${randomUUID()}`;
  let { taken } = await stealTake(redis, home, { transferId, want: input.quantity, nowMs, toShard: 0 });
  // A load is recounting the activity (milliseconds): wait for it rather than leave the units on open sale.
  for (let tries = 0; taken === -6 && tries < LOAD_RETRIES; tries++) {
    await sleep(LOAD_RETRY_MS);
    ({ taken } = await stealTake(redis, home, { transferId, want: input.quantity, nowMs: Date.now(), toShard: 0 }));
  }
  if (taken <= 0) return { returned, pass: empty };
  // stealTake may take more than was returned (half the shard): the rest is on sale on shard 0.
  const [, pass] = await runInMulti(redis, [
    stealGiveCall(zero, { transferId, units: taken, segment: 0 }),
    offerCall(keys, input.activityId, input.segments, nowMs, offerMs, shards),
  ]);
  await clearTransit(redis, home, transferId);
  return { returned, pass: parseOffer(pass as OfferReply) };
}

/** What waitlistClaim-8.lua and claimGive-8.lua answer: undefined when there was no offer to take. */
function claimResult(code: number, value: string): ReserveResult | undefined {
  switch (code) {
    case 1:
      return { kind: 'reserved', orderId: value };
    case 2:
      return parseStoredAnswer(value);
    case -2:
      return { kind: 'refused', code: 'LIMIT_EXCEEDED' };
    default:
      return undefined;
  }
}

/** The purchase of an offered user from the held unit; undefined when the user holds no live offer. */
export async function waitlistClaim(redis: RedisClient, keys: Keys, input: ReserveInput): Promise<ReserveResult | undefined> {
  const shards = input.shards ?? 1;
  if (shards > 1 && homeShard(input.userId, shards) !== 0) return claimAcrossShards(redis, keys, input);
  const k = keys.shard(input.activityId, shards, 0);
  const w = k.waitlist;
  const [code, value] = await runCall<[number, string]>(redis, {
    name: 'waitlistClaim',
    keys: [
      w.offers,
      w.held,
      k.user(input.userId),
      k.request(input.userId, input.requestId),
      k.reservations,
      k.lastOrder(input.userId),
      w.expired,
      k.pending,
    ],
    args: [input.userId, input.quantity, input.limitPerUser, input.orderId, input.requestId, input.nowMs, input.ttlSeconds],
  });
  return claimResult(code, value);
}

/**
 * An offered user whose home shard is not the waitlist's: the offer and its held unit move into
 * shard 0's transit (waitlistTake), then the home shard turns the unit into the reservation
 * (claimGive, once per transfer), then the transit entry goes. A crash in between strands the
 * unit in transit, where reconciliation finds it (voids the transfer; the next load recounts it).
 */
async function claimAcrossShards(redis: RedisClient, keys: Keys, input: ReserveInput): Promise<ReserveResult | undefined> {
  const shards = input.shards ?? 1;
  const home = homeKeys(keys, input.activityId, input.userId, shards);
  const zero = waitlistShard(keys, input.activityId, shards);
  if (input.quantity !== 1) return undefined;
  // A replay or a user at the limit must not consume the offer: looked at first (the give checks again).
  const [previous, held] = await Promise.all([redis.get(home.request(input.userId, input.requestId)), redis.get(home.user(input.userId))]);
  if (previous) return parseStoredAnswer(previous);
  if (Number(held ?? '0') + 1 > input.limitPerUser) return undefined;
  const transferId = `w${input.orderId}`;
  const took = await runCall<number>(redis, {
    name: 'waitlistTake',
    keys: [zero.waitlist.offers, zero.waitlist.held, zero.waitlist.expired, zero.transit, zero.loading],
    args: [input.userId, transferId, input.nowMs, homeShard(input.userId, shards)],
  });
  // A load is recounting the activity: the offer stays, the buyer asks again shortly.
  if (took === -6) return { kind: 'busy' };
  if (took !== 1) return undefined;
  const [code, value] = await runCall<[number, string]>(redis, {
    name: 'claimGive',
    keys: [
      home.given(transferId),
      home.user(input.userId),
      home.request(input.userId, input.requestId),
      home.reservations,
      home.lastOrder(input.userId),
      home.pending,
      home.nonEmpty,
      home.remaining,
    ],
    args: [
      home.segmentPrefix,
      0,
      input.userId,
      input.limitPerUser,
      input.orderId,
      input.requestId,
      input.nowMs,
      input.ttlSeconds,
      TRANSFER_MARKER_TTL_SECONDS,
    ],
  });
  await clearTransit(redis, zero, transferId);
  return claimResult(code, value);
}

export interface WaitlistView {
  position: number | undefined;
  offerExpiresAtMs: number | undefined;
  expired: boolean;
}

export async function waitlistView(redis: RedisClient, keys: Keys, activityId: string, userId: string, shards = 1): Promise<WaitlistView> {
  const w = waitlistShard(keys, activityId, shards).waitlist;
  const [rank, offer, expired] = await Promise.all([
    redis.zrank(w.queue, userId),
    redis.hget(w.offers, userId),
    redis.sismember(w.expired, userId),
  ]);
  return {
    position: rank === null ? undefined : rank + 1,
    offerExpiresAtMs: offer === null ? undefined : Number(offer),
    expired: expired === 1,
  };
}

/** Leaves the waitlist; an offer the user held is dropped (its unit passes on at the next pass). */
export async function waitlistLeave(redis: RedisClient, keys: Keys, activityId: string, userId: string, shards = 1): Promise<void> {
  const w = waitlistShard(keys, activityId, shards).waitlist;
  await redis.multi().zrem(w.queue, userId).hdel(w.offers, userId).srem(w.expired, userId).exec();
}
