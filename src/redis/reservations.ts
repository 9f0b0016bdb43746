/**
 * The purchase path's scripts: the reservation itself (reserve-7.lua: idempotency, per-user limit
 * and stock in one step), its release (release-6.lua) and the confirmation of its publish
 * (confirm-2.lua), and the reservation entries the worker settles. The only module that builds
 * these scripts' KEYS and ARGV; negative script codes become a result the purchase switches on.
 */
import type { RedisClient } from './client.ts';
import { type ActivityKeys, homeShard, type Keys } from './keys.ts';
import { runScript } from './scripts.ts';
import { allShardKeys, homeKeys, perShard, randomSegment, shardSegments } from './shards.ts';

export type ReserveResult =
  | { kind: 'reserved'; orderId: string }
  | { kind: 'replay'; orderId: string }
  /** A replay of a request whose reservation's publish is not yet confirmed. */
  | { kind: 'pending'; orderId: string }
  | { kind: 'refused'; code: 'SOLD_OUT' | 'LIMIT_EXCEEDED' }
  /** Short of stock while unconfirmed reservations may still give units back: retry shortly. */
  | { kind: 'busy' }
  /** (shardOnly) the home shard is short; nothing stored: steal, or ask again for the final answer. */
  | { kind: 'shard-empty'; pending: number }
  | { kind: 'not-preheated' };

export interface ReserveInput {
  activityId: string;
  userId: string;
  requestId: string;
  quantity: number;
  limitPerUser: number;
  orderId: string;
  nowMs: number;
  ttlSeconds: number;
  /** Shards of the activity (default 1): the reservation runs on the user's home shard. */
  shards?: number;
  /** A shortage on the home shard is not final (other shards may hold units): answer shard-empty. */
  shardOnly?: boolean;
}

const REFUSALS: Record<string, 'SOLD_OUT' | 'LIMIT_EXCEEDED'> = {
  '-1': 'SOLD_OUT',
  '-2': 'LIMIT_EXCEEDED',
  'E:SOLD_OUT': 'SOLD_OUT',
  'E:LIMIT_EXCEEDED': 'LIMIT_EXCEEDED',
};

export function parseStoredAnswer(answer: string): ReserveResult {
  if (answer.startsWith('O:')) return { kind: 'replay', orderId: answer.slice(2) };
  if (answer.startsWith('P:')) return { kind: 'pending', orderId: answer.slice(2) };
  const code = REFUSALS[answer];
  if (!code) throw new Error(`unknown stored answer ${answer}`);
  return { kind: 'refused', code };
}

export async function reserve(redis: RedisClient, keys: Keys, input: ReserveInput): Promise<ReserveResult> {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  const [code, value] = await runScript<[number, string]>(
    redis,
    'reserve',
    [
      k.nonEmpty,
      k.remaining,
      k.user(input.userId),
      k.request(input.userId, input.requestId),
      k.reservations,
      k.lastOrder(input.userId),
      k.pending,
    ],
    [
      k.segmentPrefix,
      input.quantity,
      input.limitPerUser,
      input.orderId,
      input.userId,
      input.requestId,
      input.nowMs,
      input.ttlSeconds,
      input.shardOnly ? 1 : 0,
    ],
  );
  switch (code) {
    case 1:
      return { kind: 'reserved', orderId: value };
    case 2:
      return parseStoredAnswer(value);
    case -3:
      return { kind: 'not-preheated' };
    case -4:
      return { kind: 'busy' };
    case -5:
      return { kind: 'shard-empty', pending: Number(value) };
    default: {
      const refusal = REFUSALS[String(code)];
      if (!refusal) throw new Error(`reserve script returned unknown code ${code}`);
      return { kind: 'refused', code: refusal };
    }
  }
}

export interface ReleaseInput {
  activityId: string;
  userId: string;
  requestId: string;
  orderId: string;
  quantity: number;
  segments: number;
  /** false when MySQL had no unit to give: the unit must not reappear in Redis. */
  returnStock: boolean;
  /** true when the client never got a 202 for it (publish failed) and may retry the requestId. */
  forgetAnswer: boolean;
  shards?: number;
}

/** Undoes a reservation; true when this call released it (idempotent). */
export async function release(redis: RedisClient, keys: Keys, input: ReleaseInput): Promise<boolean> {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  const released = await runScript<number>(
    redis,
    'release',
    [k.nonEmpty, k.remaining, k.user(input.userId), k.reservations, k.request(input.userId, input.requestId), k.pending],
    [
      k.segmentPrefix,
      randomSegment(shardSegments(input.segments, input.shards ?? 1)),
      input.orderId,
      input.quantity,
      input.returnStock ? 1 : 0,
      input.forgetAnswer ? 1 : 0,
    ],
  );
  return released === 1;
}

/**
 * The reservation's publish is settled (acknowledged, or unknown and answered 202): replays of its
 * requestId are told 202 from now on. True when the answer was still pending.
 */
export async function confirm(
  redis: RedisClient,
  keys: Keys,
  input: { activityId: string; userId: string; requestId: string; orderId: string; shards?: number },
): Promise<boolean> {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  const confirmed = await runScript<number>(redis, 'confirm', [k.request(input.userId, input.requestId), k.pending], [input.orderId]);
  return confirmed === 1;
}

/**
 * The orders of these requests are in MySQL: any answer still pending (its API process died
 * before confirming, or has not confirmed yet) becomes "O:<orderId>" now, so replays are told 202
 * and buyers at the sold-out edge stop hearing "busy". One read per shard; a confirm per mark found.
 */
export async function confirmPersisted(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  orders: Array<{ orderId: string; userId: string; requestId: string }>,
  shards = 1,
): Promise<void> {
  const byShard = Map.groupBy(orders, (o) => homeShard(o.userId, shards));
  for (const [shard, list] of byShard) {
    const marks = await redis.hmget(keys.shard(activityId, shards, shard).pending, ...list.map((o) => o.orderId));
    const pending = list.filter((_, i) => marks[i] !== null);
    await Promise.all(pending.map((o) => confirm(redis, keys, { activityId, ...o, shards })));
  }
}

/** How often each API process looks for its unacknowledged reservations in Redis (unsettled-publishes.ts). */
export const LOST_RESERVATION_CHECK_MS = 250;

export type RestoreOutcome = 'present' | 'restored' | 'sold-again';
const RESTORE_OUTCOMES: Record<string, RestoreOutcome> = { '0': 'present', '1': 'restored', '2': 'sold-again' };

/**
 * Writes back a reservation Redis lost while its publish was unacknowledged (restoreLost-7.lua).
 * The caller holds the MySQL stock lock and has seen that the order has no row.
 */
export async function restoreLost(
  redis: RedisClient,
  keys: Keys,
  input: Reservation & { activityId: string; shards: number; ttlSeconds: number; confirmed: boolean },
): Promise<RestoreOutcome> {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  const code = await runScript<number>(
    redis,
    'restoreLost',
    [k.reservations, k.pending, k.user(input.userId), k.request(input.userId, input.requestId), k.lastOrder(input.userId), k.nonEmpty, k.remaining],
    [k.segmentPrefix, input.orderId, input.userId, input.requestId, input.quantity, input.reservedAtMs, input.ttlSeconds, input.confirmed ? 1 : 0],
  );
  return RESTORE_OUTCOMES[String(code)] ?? 'present';
}

/** Which of these reservations are missing from their home shards (one HMGET per shard). */
export async function missingReservations<T extends { orderId: string; userId: string }>(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  shards: number,
  reservations: T[],
): Promise<T[]> {
  const byShard = Map.groupBy(reservations, (r) => homeShard(r.userId, shards));
  const missing: T[] = [];
  for (const [shard, list] of byShard) {
    const found = await redis.hmget(keys.shard(activityId, shards, shard).reservations, ...list.map((r) => r.orderId));
    missing.push(...list.filter((_, i) => found[i] === null));
  }
  return missing;
}

export interface PendingReservation {
  orderId: string;
  userId: string;
  requestId: string;
  reservedAtMs: number;
}

/** Reservations whose publish no API process has confirmed yet. */
export async function listPending(redis: RedisClient, keys: Keys, activityId: string, shards = 1): Promise<PendingReservation[]> {
  const all = await Promise.all(allShardKeys(keys, activityId, shards).map((k) => redis.hgetall(k.pending)));
  return all.flatMap((entries) =>
    Object.entries(entries).map(([orderId, value]) => {
      const [reservedAtMs = '0', userId = '', ...rest] = value.split('|');
      return { orderId, userId, requestId: rest.join('|'), reservedAtMs: Number(reservedAtMs) };
    }),
  );
}

/**
 * Redis WAIT on the node that holds the shard: blocks until `replicas` replicas have every write
 * this connection sent before it (the reservation just made there), or the timeout passes. Returns
 * how many acknowledged. The keyed EXISTS routes the pipeline to the shard's node in a cluster.
 */
export async function waitForReplicas(redis: RedisClient, shard: ActivityKeys, replicas: number, timeoutMs: number): Promise<number> {
  const results = await redis.pipeline().exists(shard.remaining).call('WAIT', replicas, timeoutMs).exec();
  const [error, acknowledged] = results?.[1] ?? [new Error('WAIT returned nothing'), 0];
  if (error) throw error;
  return Number(acknowledged);
}

export interface Reservation {
  orderId: string;
  userId: string;
  quantity: number;
  reservedAtMs: number;
  requestId: string;
}

/** A reservation entry ("userId|quantity|reservedAtMs|requestId") under its order id. */
export function parseReservation(orderId: string, value: string): Reservation {
  const [userId = '', quantity = '0', reservedAtMs = '0', ...rest] = value.split('|');
  return { orderId, userId, quantity: Number(quantity), reservedAtMs: Number(reservedAtMs), requestId: rest.join('|') };
}

export async function getReservation(redis: RedisClient, keys: Keys, activityId: string, orderId: string, shards = 1): Promise<Reservation | undefined> {
  for (const k of allShardKeys(keys, activityId, shards)) {
    const value = await redis.hget(k.reservations, orderId);
    if (value !== null) return parseReservation(orderId, value);
  }
  return undefined;
}

export async function listReservations(redis: RedisClient, keys: Keys, activityId: string, shards = 1): Promise<Reservation[]> {
  const all = await Promise.all(allShardKeys(keys, activityId, shards).map((k) => redis.hgetall(k.reservations)));
  return all.flatMap((entries) => Object.entries(entries).map(([orderId, value]) => parseReservation(orderId, value)));
}

/**
 * Puts reservation entries back (only where missing): the worker settles reservations inside its
 * MySQL transaction, so when that transaction then fails to commit, the entries must come back or
 * a preheat would count their units as free while the redelivered orders take them again.
 */
export async function restoreReservations(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  reservations: Reservation[],
  shards = 1,
): Promise<void> {
  await perShard(redis, reservations, (r) => homeShard(r.userId, shards), (pipeline, r) => {
    pipeline.hsetnx(homeKeys(keys, activityId, r.userId, shards).reservations, r.orderId, `${r.userId}|${r.quantity}|${r.reservedAtMs}|${r.requestId}`);
  });
}

/**
 * The worker persisted these orders: their reservations are settled (the units now live in MySQL).
 * Each entry lives on its user's home shard; a bare order id means the activity has one shard.
 */
export async function settle(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  entries: Array<string | { orderId: string; userId: string }>,
  shards = 1,
): Promise<void> {
  const byShard = new Map<string, string[]>();
  for (const entry of entries) {
    const key =
      typeof entry === 'string' ? keys.shard(activityId, shards, 0).reservations : homeKeys(keys, activityId, entry.userId, shards).reservations;
    const list = byShard.get(key) ?? [];
    list.push(typeof entry === 'string' ? entry : entry.orderId);
    byShard.set(key, list);
  }
  await Promise.all([...byShard].map(([key, orderIds]) => redis.hdel(key, ...orderIds)));
}
