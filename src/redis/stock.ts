/**
 * Typed wrappers of the stock scripts: the only module that builds their KEYS and ARGV.
 * Negative script codes become a discriminated result the services switch on.
 */
import type { RedisClient } from './client.ts';
import { type ActivityKeys, homeShard, type Keys } from './keys.ts';
import { runScript } from './scripts.ts';

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

const randomSegment = (segments: number) => Math.floor(Math.random() * segments);

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

export interface RestockInput {
  activityId: string;
  userId: string;
  orderId: string;
  quantity: number;
  segments: number;
  shards?: number;
}

const RETURN_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** Gives a cancelled order's units back; true when this call returned them (idempotent per order). */
export async function restock(redis: RedisClient, keys: Keys, input: RestockInput): Promise<boolean> {
  const k = homeKeys(keys, input.activityId, input.userId, input.shards);
  const returned = await runScript<number>(
    redis,
    'restock',
    [k.nonEmpty, k.remaining, k.user(input.userId), k.returned(input.orderId), k.reservations],
    [k.segmentPrefix, randomSegment(shardSegments(input.segments, input.shards ?? 1)), input.orderId, input.quantity, RETURN_MARKER_TTL_SECONDS],
  );
  return returned === 1;
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
  const [before, after, inFlight] = await runScript<[number, number, number]>(
    redis,
    'load',
    [k.nonEmpty, k.remaining, k.reservations, k.waitlist.held, k.transit],
    [k.segmentPrefix, segments, quota],
  );
  return { before, after, inFlight };
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

export interface ShardSnapshot {
  /** Units of the shard's reservations not yet settled. */
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
  const [reservations, transit, held, loaded] = await Promise.all([
    redis.hvals(k.reservations),
    redis.hvals(k.transit),
    redis.get(k.waitlist.held),
    redis.exists(k.remaining),
  ]);
  return {
    inFlight: unitsOf(reservations, /^[^|]*\|(\d+)\|/),
    transit: unitsOf(transit, /^(\d+)\|/),
    held: Number(held ?? '0'),
    loaded: loaded === 1,
  };
}

/** How long a transfer's once-only marker lives on the receiving shard: far beyond any crash to repair. */
export const TRANSFER_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** stealTake-4.lua on the donor: {taken, pending}; taken -3 when the donor is not loaded. */
export async function stealTake(
  redis: RedisClient,
  donor: ActivityKeys,
  input: { transferId: string; want: number; nowMs: number; toShard: number },
): Promise<{ taken: number; pending: number }> {
  const [taken, pending] = await runScript<[number, number]>(
    redis,
    'stealTake',
    [donor.nonEmpty, donor.remaining, donor.transit, donor.pending],
    [donor.segmentPrefix, input.transferId, input.want, input.nowMs, input.toShard],
  );
  return { taken, pending };
}

export type GiveOutcome = 'given' | 'voided' | 'already' | 'not-loaded';
const GIVE_OUTCOMES: Record<string, GiveOutcome> = { '1': 'given', '2': 'voided', '0': 'already', '-3': 'not-loaded' };

/** stealGive-3.lua on the receiver: adds a transfer's units at most once (or voids the transfer). */
export async function stealGive(
  redis: RedisClient,
  receiver: ActivityKeys,
  input: { transferId: string; units: number; segments: number; void?: boolean },
): Promise<{ outcome: GiveOutcome; remaining: number }> {
  const [code, left] = await runScript<[number, number]>(
    redis,
    'stealGive',
    [receiver.nonEmpty, receiver.remaining, receiver.given(input.transferId)],
    [receiver.segmentPrefix, randomSegment(input.segments), input.units, TRANSFER_MARKER_TTL_SECONDS, input.void ? 1 : 0],
  );
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

export interface BuyerMemory {
  /** Units each user holds in non-cancelled orders (MySQL's user_quota). */
  units: Array<{ userId: string; quantity: number }>;
  /** Every order a request became, in id order (the last one per user is the user's latest). */
  answers: Array<{ userId: string; requestId: string; orderId: string }>;
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
  const units = memory.units.filter((u) => keep(u.userId));
  const answers = memory.answers.filter((a) => keep(a.userId));
  const CHUNK = 1000;
  for (let i = 0; i < units.length; i += CHUNK) {
    const pipeline = redis.pipeline();
    for (const { userId, quantity } of units.slice(i, i + CHUNK)) {
      const k = kOf(userId);
      // Only raise: a reservation made since the wipe (none can be, but a count is never lowered here).
      if (quantity > 0) pipeline.set(k.user(userId), quantity, 'EX', memory.ttlSeconds, 'NX');
    }
    await pipeline.exec();
  }
  for (let i = 0; i < answers.length; i += CHUNK) {
    const pipeline = redis.pipeline();
    for (const { userId, requestId, orderId } of answers.slice(i, i + CHUNK)) {
      const k = kOf(userId);
      pipeline.set(k.request(userId, requestId), `O:${orderId}`, 'EX', memory.ttlSeconds, 'NX');
      pipeline.set(k.lastOrder(userId), orderId, 'EX', memory.ttlSeconds);
    }
    await pipeline.exec();
  }
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

export interface Reservation {
  orderId: string;
  userId: string;
  quantity: number;
  reservedAtMs: number;
  requestId: string;
}

function parseReservation(orderId: string, value: string): Reservation {
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
  if (reservations.length === 0) return;
  const pipeline = redis.pipeline();
  for (const r of reservations) {
    pipeline.hsetnx(homeKeys(keys, activityId, r.userId, shards).reservations, r.orderId, `${r.userId}|${r.quantity}|${r.reservedAtMs}|${r.requestId}`);
  }
  await pipeline.exec();
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
