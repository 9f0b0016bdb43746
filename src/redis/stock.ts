/**
 * Typed wrappers of the stock scripts: the only module that builds their KEYS and ARGV.
 * Negative script codes become a discriminated result the services switch on.
 */
import type { RedisClient } from './client.ts';
import type { Keys } from './keys.ts';
import { runScript } from './scripts.ts';

export type ReserveResult =
  | { kind: 'reserved'; orderId: string }
  | { kind: 'replay'; orderId: string }
  | { kind: 'refused'; code: 'SOLD_OUT' | 'LIMIT_EXCEEDED' }
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
}

const REFUSALS: Record<string, 'SOLD_OUT' | 'LIMIT_EXCEEDED'> = {
  '-1': 'SOLD_OUT',
  '-2': 'LIMIT_EXCEEDED',
  'E:SOLD_OUT': 'SOLD_OUT',
  'E:LIMIT_EXCEEDED': 'LIMIT_EXCEEDED',
};

export function parseStoredAnswer(answer: string): ReserveResult {
  if (answer.startsWith('O:')) return { kind: 'replay', orderId: answer.slice(2) };
  const code = REFUSALS[answer];
  if (!code) throw new Error(`unknown stored answer ${answer}`);
  return { kind: 'refused', code };
}

export async function reserve(redis: RedisClient, keys: Keys, input: ReserveInput): Promise<ReserveResult> {
  const k = keys.activity(input.activityId);
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
    ],
  );
  switch (code) {
    case 1:
      return { kind: 'reserved', orderId: value };
    case 2:
      return parseStoredAnswer(value);
    case -3:
      return { kind: 'not-preheated' };
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
}

const randomSegment = (segments: number) => Math.floor(Math.random() * segments);

/** Undoes a reservation; true when this call released it (idempotent). */
export async function release(redis: RedisClient, keys: Keys, input: ReleaseInput): Promise<boolean> {
  const k = keys.activity(input.activityId);
  const released = await runScript<number>(
    redis,
    'release',
    [k.nonEmpty, k.remaining, k.user(input.userId), k.reservations, k.request(input.userId, input.requestId)],
    [
      k.segmentPrefix,
      randomSegment(input.segments),
      input.orderId,
      input.quantity,
      input.returnStock ? 1 : 0,
      input.forgetAnswer ? 1 : 0,
    ],
  );
  return released === 1;
}

export interface RestockInput {
  activityId: string;
  userId: string;
  orderId: string;
  quantity: number;
  segments: number;
}

const RETURN_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** Gives a cancelled order's units back; true when this call returned them (idempotent per order). */
export async function restock(redis: RedisClient, keys: Keys, input: RestockInput): Promise<boolean> {
  const k = keys.activity(input.activityId);
  const returned = await runScript<number>(
    redis,
    'restock',
    [k.nonEmpty, k.remaining, k.user(input.userId), k.returned(input.orderId), k.reservations],
    [k.segmentPrefix, randomSegment(input.segments), input.orderId, input.quantity, RETURN_MARKER_TTL_SECONDS],
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
  const k = keys.activity(activityId);
  const [before, after, inFlight] = await runScript<[number, number, number]>(
    redis,
    'load',
    [k.nonEmpty, k.remaining, k.reservations, k.waitlist.held],
    [k.segmentPrefix, segments, available],
  );
  return { before, after, inFlight };
}

/** Units Redis still offers, or undefined when the activity is not loaded. */
export async function remaining(redis: RedisClient, keys: Keys, activityId: string): Promise<number | undefined> {
  const value = await redis.get(keys.activity(activityId).remaining);
  return value === null ? undefined : Number(value);
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

export async function getReservation(redis: RedisClient, keys: Keys, activityId: string, orderId: string): Promise<Reservation | undefined> {
  const value = await redis.hget(keys.activity(activityId).reservations, orderId);
  return value === null ? undefined : parseReservation(orderId, value);
}

export async function listReservations(redis: RedisClient, keys: Keys, activityId: string): Promise<Reservation[]> {
  const all = await redis.hgetall(keys.activity(activityId).reservations);
  return Object.entries(all).map(([orderId, value]) => parseReservation(orderId, value));
}

/** The worker persisted these orders: their reservations are settled (the units now live in MySQL). */
export async function settle(redis: RedisClient, keys: Keys, activityId: string, orderIds: string[]): Promise<void> {
  if (orderIds.length > 0) await redis.hdel(keys.activity(activityId).reservations, ...orderIds);
}
