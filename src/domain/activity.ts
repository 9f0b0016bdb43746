/** Activities and commodities as the API shows them, and the pure rules about them. */

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
  /** Redis shards of the stock (issue #11); 1 = one hash tag. */
  shards: number;
  commodity: Commodity;
}

export type ActivityStatus = 'UPCOMING' | 'LIVE' | 'SOLD_OUT' | 'ENDED';

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
  };
}
