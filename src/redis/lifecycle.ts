/**
 * Typed wrappers of the lifecycle scripts (issue #4: cancellation returns and the waitlist): the
 * only module that builds their KEYS and ARGV. The restock itself stays in stock.ts; here it is
 * chained with a waitlist pass in one MULTI, so returned units reach waiting users first.
 */
import type { RedisClient } from './client.ts';
import type { Keys } from './keys.ts';
import { runScript, script } from './scripts.ts';
import type { ReserveInput, ReserveResult, RestockInput } from './stock.ts';
import { parseStoredAnswer } from './stock.ts';

const RETURN_MARKER_TTL_SECONDS = 7 * 24 * 3600;
const randomSegment = (segments: number) => Math.floor(Math.random() * segments);

export type JoinResult =
  | { kind: 'waiting'; position: number }
  | { kind: 'offered'; expiresAtMs: number }
  | { kind: 'not-sold-out' }
  | { kind: 'not-loaded' };

export async function waitlistJoin(redis: RedisClient, keys: Keys, activityId: string, userId: string, nowMs: number): Promise<JoinResult> {
  const k = keys.activity(activityId);
  const w = k.waitlist;
  const [code, value] = await runScript<[number, number]>(
    redis,
    'waitlistJoin',
    [k.remaining, w.queue, w.seq, w.offers, w.expired],
    [userId, nowMs],
  );
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

function offerArgs(keys: Keys, activityId: string, segments: number, nowMs: number, offerMs: number) {
  const k = keys.activity(activityId);
  const w = k.waitlist;
  return {
    keys: [k.nonEmpty, k.remaining, w.queue, w.offers, w.held, w.expired],
    args: [k.segmentPrefix, randomSegment(segments), nowMs, offerMs],
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
): Promise<OfferPass> {
  const { keys: k, args } = offerArgs(keys, activityId, segments, nowMs, offerMs);
  return parseOffer(await runScript<OfferReply>(redis, 'waitlistOffer', k, args));
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
  const k = keys.activity(input.activityId);
  const restock = script('restock');
  const offer = script('waitlistOffer');
  const segment = randomSegment(input.segments);
  const o = offerArgs(keys, input.activityId, input.segments, nowMs, offerMs);
  const multi = redis.multi() as unknown as Record<string, (...a: Array<string | number>) => unknown> & {
    exec(): Promise<Array<[Error | null, unknown]> | null>;
  };
  const call = (name: string, ...a: Array<string | number>) => {
    const command = multi[name];
    if (!command) throw new Error(`script ${name} is not defined on this connection`);
    command.call(multi, ...a);
  };
  call(
    restock.command,
    k.nonEmpty,
    k.remaining,
    k.user(input.userId),
    k.returned(input.orderId),
    k.reservations,
    k.segmentPrefix,
    segment,
    input.orderId,
    input.quantity,
    RETURN_MARKER_TTL_SECONDS,
  );
  call(offer.command, ...o.keys, ...o.args);
  const results = await multi.exec();
  if (!results) throw new Error('restock transaction aborted');
  const [[restockError, returned] = [null, 0], [offerError, pass] = [null, [0, [], []]]] = results;
  if (restockError) throw restockError;
  if (offerError) throw offerError;
  return { returned: Number(returned) === 1, pass: parseOffer(pass as OfferReply) };
}

/** Whether a cancelled order's units were already returned to Redis. */
export async function wasReturned(redis: RedisClient, keys: Keys, activityId: string, orderIds: string[]): Promise<boolean[]> {
  if (orderIds.length === 0) return [];
  const k = keys.activity(activityId);
  const values = await redis.mget(...orderIds.map((id) => k.returned(id)));
  return values.map((v) => v !== null);
}

/** The purchase of an offered user from the held unit; undefined when the user holds no live offer. */
export async function waitlistClaim(redis: RedisClient, keys: Keys, input: ReserveInput): Promise<ReserveResult | undefined> {
  const k = keys.activity(input.activityId);
  const w = k.waitlist;
  const [code, value] = await runScript<[number, string]>(
    redis,
    'waitlistClaim',
    [w.offers, w.held, k.user(input.userId), k.request(input.userId, input.requestId), k.reservations, k.lastOrder(input.userId), w.expired],
    [input.userId, input.quantity, input.limitPerUser, input.orderId, input.requestId, input.nowMs, input.ttlSeconds],
  );
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

export interface WaitlistView {
  position: number | undefined;
  offerExpiresAtMs: number | undefined;
  expired: boolean;
}

export async function waitlistView(redis: RedisClient, keys: Keys, activityId: string, userId: string): Promise<WaitlistView> {
  const w = keys.activity(activityId).waitlist;
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
export async function waitlistLeave(redis: RedisClient, keys: Keys, activityId: string, userId: string): Promise<void> {
  const w = keys.activity(activityId).waitlist;
  await redis.multi().zrem(w.queue, userId).hdel(w.offers, userId).srem(w.expired, userId).exec();
}
