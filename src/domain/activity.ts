/** Activities and commodities as the API shows them, and the pure rules about them. */
import { prequeueOpensAtMs, type WaitingRoomSettings } from './waiting-room.ts';

export interface Commodity {
  id: string;
  name: string;
  description: string | null;
  priceCents: number;
  category: string | null;
}

export type AntiBot = 'none' | 'challenge';

export interface Activity {
  id: string;
  name: string;
  commodityId: string;
  priceCents: number;
  stock: number;
  startAt: Date;
  endAt: Date;
  limitPerUser: number;
  paymentTimeoutSeconds: number;
  antiBot: AntiBot;
  challengeDifficulty: number;
  segments: number;
  /** Redis shards of the stock; 1 = one hash tag. */
  shards: number;
  /** An operator paused the sale: purchases are refused (403 PAUSED) until it is resumed. */
  paused: boolean;
  /** The waiting room in front of the purchase (mode 'off': none, the open rush). */
  waitingRoom: WaitingRoomSettings;
  commodity: Commodity;
}

export type ActivityStatus = 'UPCOMING' | 'LIVE' | 'SOLD_OUT' | 'ENDED';
/** What the operator's console shows: the public status, or PAUSED while paused and not ended. */
export type AdminActivityStatus = ActivityStatus | 'PAUSED';

export function adminActivityStatus(activity: Pick<Activity, 'startAt' | 'endAt' | 'paused'>, remaining: number, nowMs: number): AdminActivityStatus {
  const status = activityStatus(activity, remaining, nowMs);
  return activity.paused && status !== 'ENDED' ? 'PAUSED' : status;
}

/** ENDED wins over SOLD_OUT, SOLD_OUT over LIVE; before the start it is UPCOMING even if empty. */
export function activityStatus(activity: Pick<Activity, 'startAt' | 'endAt'>, remaining: number, nowMs: number): ActivityStatus {
  if (nowMs >= activity.endAt.getTime()) return 'ENDED';
  if (nowMs < activity.startAt.getTime()) return 'UPCOMING';
  return remaining <= 0 ? 'SOLD_OUT' : 'LIVE';
}

export const MAX_SEGMENTS = 64;
const UNITS_PER_SEGMENT = 500;
const DEFAULT_MAX_SEGMENTS = 8;

/**
 * Segments by size when the admin does not choose: small sales stay in one key (nothing to
 * spread), hot big ones get up to 8 so no single counter takes every decrement.
 */
export function defaultSegments(stock: number): number {
  return Math.max(1, Math.min(DEFAULT_MAX_SEGMENTS, Math.ceil(stock / UNITS_PER_SEGMENT)));
}

export const MAX_SHARDS = 64;
/** Below this many units a sale stays on one shard: there is nothing worth spreading. */
const UNITS_PER_SHARD = 100;

/**
 * Shards by deployment when the admin does not choose: one on a single Redis (shards would only
 * add steals), and on a cluster up to `clusterShards` (one per master), never more than the
 * stock allows at UNITS_PER_SHARD units each.
 */
export function defaultShards(stock: number, clusterShards: number): number {
  return Math.max(1, Math.min(clusterShards, MAX_SHARDS, Math.floor(stock / UNITS_PER_SHARD)));
}

/** Below this many units per slot a sale keeps one stock row: it is persisted in a few batches anyway. */
const UNITS_PER_STOCK_SLOT = 1000;
const DEFAULT_STOCK_SLOTS = 4;

/**
 * How many activity_stock rows (slots) hold a sale's units in MySQL. Each order worker locks one
 * slot per batch, so up to this many workers persist one hot activity at once instead of queueing
 * on one row lock; a worker whose slot runs short moves units over from the others. Four covers the
 * workers one activity's partitions feed on a few machines; small sales stay on one row, where
 * moves at sell-out would cost more than the lock they avoid.
 */
export function stockSlots(stock: number): number {
  return Math.max(1, Math.min(DEFAULT_STOCK_SLOTS, Math.floor(stock / UNITS_PER_STOCK_SLOT)));
}

export function activityJson(activity: Activity) {
  return {
    id: activity.id,
    name: activity.name,
    commodityId: activity.commodityId,
    priceCents: activity.priceCents,
    stock: activity.stock,
    startAt: activity.startAt.toISOString(),
    endAt: activity.endAt.toISOString(),
    limitPerUser: activity.limitPerUser,
    paymentTimeoutSeconds: activity.paymentTimeoutSeconds,
    antiBot: activity.antiBot,
    challengeDifficulty: activity.challengeDifficulty,
    segments: activity.segments,
    shards: activity.shards,
    paused: activity.paused,
    waitingRoom: waitingRoomJson(activity),
  };
}

/** The waiting room's settings as the admin endpoints show them, with when the pre-queue opens. */
export function waitingRoomJson(activity: Pick<Activity, 'startAt' | 'waitingRoom'>) {
  return { ...activity.waitingRoom, prequeueOpensAt: new Date(prequeueOpensAtMs(activity.startAt, activity.waitingRoom)).toISOString() };
}
