/**
 * The gate's counters: loading a shard's open-sale units from MySQL's truth (load-5.lua), reading
 * what is left, giving a cancelled order's units back (restock-5.lua, once per order), and the
 * buyers' memory a rebuild restores. The only module that builds these scripts' KEYS and ARGV.
 */
import type { RedisClient } from './client.ts';
import { type ActivityKeys, homeShard, type Keys } from './keys.ts';
import { parseReservation, type Reservation } from './reservations.ts';
import { runCall, type ScriptCall } from './scripts.ts';
import { allShardKeys, homeKeys, perShard, randomSegment, shardSegments } from './shards.ts';

export interface RestockInput {
  activityId: string;
  userId: string;
  orderId: string;
  quantity: number;
  segments: number;
  shards?: number;
}

/** How long a cancelled order's return marker lives: far beyond any retry or reconciliation of it. */
const RETURN_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** restock-5.lua on the buyer's home shard: it answers 1 when it returned the units now. */
export function restockCall(keys: Keys, input: RestockInput): ScriptCall {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  return {
    name: 'restock',
    keys: [k.nonEmpty, k.remaining, k.user(input.userId), k.returned(input.orderId), k.reservations],
    args: [k.segmentPrefix, randomSegment(shardSegments(input.segments, input.shards ?? 1)), input.orderId, input.quantity, RETURN_MARKER_TTL_SECONDS],
  };
}

/** Gives a cancelled order's units back; true when this call returned them (idempotent per order). */
export async function restock(redis: RedisClient, keys: Keys, input: RestockInput): Promise<boolean> {
  return (await runCall<number>(redis, restockCall(keys, input))) === 1;
}

/** Whether a cancelled order's units were already returned to Redis (the marker is on the buyer's home shard). */
export async function wasReturned(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  orders: Array<string | { orderId: string; userId: string }>,
  shards = 1,
): Promise<boolean[]> {
  if (orders.length === 0) return [];
  const values = await Promise.all(
    orders.map((o) =>
      typeof o === 'string'
        ? redis.get(keys.shard(activityId, shards, 0).returned(o))
        : redis.get(homeKeys(keys, activityId, o.userId, shards).returned(o.orderId)),
    ),
  );
  return values.map((v) => v !== null);
}

export interface LoadResult {
  /** -1 when Redis held nothing for the activity. */
  before: number;
  after: number;
  inFlight: number;
}

/** Sets the activity's sellable units from MySQL's `available` (caller holds the row lock). */
export async function load(redis: RedisClient, keys: Keys, activityId: string, segments: number, available: number): Promise<LoadResult> {
  return loadShard(redis, keys.activity(activityId), segments, available);
}

/**
 * Sets one shard's sellable units to `quota` minus its current in-flight, held and transit units
 * (load-5.lua); the caller holds the MySQL stock row lock. With one shard, quota = `available`.
 */
export async function loadShard(redis: RedisClient, k: ActivityKeys, segments: number, quota: number): Promise<LoadResult> {
  const [before, after, inFlight] = await runCall<[number, number, number]>(redis, {
    name: 'load',
    keys: [k.nonEmpty, k.remaining, k.reservations, k.waitlist.held, k.transit],
    args: [k.segmentPrefix, segments, quota],
  });
  return { before, after, inFlight };
}

export interface ShardSnapshot {
  /** The shard's reservations not yet settled. */
  reservations: Reservation[];
  /** Their units. */
  inFlight: number;
  /** Units a steal took out of the shard and has not given yet. */
  transit: number;
  /** Units held for the waitlist (shard 0 only). */
  held: number;
  loaded: boolean;
}

const unitsOf = (values: string[], pattern: RegExp) =>
  values.reduce((n, v) => n + (Number(pattern.exec(v)?.[1] ?? '0') || 0), 0);

/** What one shard holds outside open sale (read under the MySQL stock row lock by the caller). */
export async function shardSnapshot(redis: RedisClient, k: ActivityKeys): Promise<ShardSnapshot> {
  const [entries, transit, held, loaded] = await Promise.all([
    redis.hgetall(k.reservations),
    redis.hvals(k.transit),
    redis.get(k.waitlist.held),
    redis.exists(k.remaining),
  ]);
  const reservations = Object.entries(entries).map(([orderId, value]) => parseReservation(orderId, value));
  return {
    reservations,
    inFlight: reservations.reduce((n, r) => n + r.quantity, 0),
    transit: unitsOf(transit, /^(\d+)\|/),
    held: Number(held ?? '0'),
    loaded: loaded === 1,
  };
}

export interface BuyerMemory {
  /** Units each user holds (MySQL's user_quota, and reservations not yet in MySQL); a user may appear more than once. */
  units: Array<{ userId: string; quantity: number }>;
  /**
   * Every order a request became, in id order (the last one per user is the user's latest);
   * `pending`: its publish is unconfirmed, a replay is told "pending", not 202.
   */
  answers: Array<{ userId: string; requestId: string; orderId: string; pending?: boolean }>;
  ttlSeconds: number;
}

/**
 * Gives an activity Redis forgot (restarted empty) back what the gate knows of its buyers: their
 * unit counts (promise 3: a user at the limit is refused at the gate again, not later by MySQL) and
 * the stored answers of their requests (promise 4: a replay gets its order id, not a second one).
 * Runs before the stock counter is loaded, so no reservation can happen in between (the reserve
 * script answers "not pre-heated" while the counter is missing).
 */
export async function rememberBuyers(
  redis: RedisClient,
  keys: Keys,
  activityId: string,
  memory: BuyerMemory,
  shards = 1,
  /** Only the users whose home shard is one of these (the shards Redis lost); all when absent. */
  onlyShards?: ReadonlySet<number>,
): Promise<void> {
  const keep = (userId: string) => !onlyShards || onlyShards.has(homeShard(userId, shards));
  const kOf = (userId: string) => homeKeys(keys, activityId, userId, shards);
  const totals = new Map<string, number>();
  for (const { userId, quantity } of memory.units) if (keep(userId)) totals.set(userId, (totals.get(userId) ?? 0) + quantity);
  await perShard(redis, [...totals], ([userId]) => homeShard(userId, shards), (pipeline, [userId, quantity]) => {
    // Only raise: a reservation made since the wipe (none can be, but a count is never lowered here).
    if (quantity > 0) pipeline.set(kOf(userId).user(userId), quantity, 'EX', memory.ttlSeconds, 'NX');
  });
  await perShard(redis, memory.answers.filter((a) => keep(a.userId)), (a) => homeShard(a.userId, shards), (pipeline, { userId, requestId, orderId, pending }) => {
    const k = kOf(userId);
    pipeline.set(k.request(userId, requestId), `${pending ? 'P' : 'O'}:${orderId}`, 'EX', memory.ttlSeconds, 'NX');
    pipeline.set(k.lastOrder(userId), orderId, 'EX', memory.ttlSeconds);
  });
}

/** Units Redis still offers (summed over the shards), or undefined when no shard is loaded. */
export async function remaining(redis: RedisClient, keys: Keys, activityId: string, shards = 1): Promise<number | undefined> {
  const values = await shardRemaining(redis, keys, activityId, shards);
  if (values.every((v) => v === undefined)) return undefined;
  return values.reduce<number>((n, v) => n + (v ?? 0), 0);
}

/** Each shard's open-sale units (undefined: that shard is not loaded). */
export async function shardRemaining(redis: RedisClient, keys: Keys, activityId: string, shards = 1): Promise<Array<number | undefined>> {
  const values = await Promise.all(allShardKeys(keys, activityId, shards).map((k) => redis.get(k.remaining)));
  return values.map((v) => (v === null ? undefined : Number(v)));
}
