/**
 * The reservation in Redis: one atomic script for idempotency + per-user limit + stock on the
 * buyer's home shard (docs/design.md, "The purchase, step by step"), preceded by an offered user's
 * claim while the activity has waitlist offers, spread over shards by stealing when the home shard
 * is short, and re-asked for about a second while the last units are held by unconfirmed publishes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Activity } from '../domain/activity.ts';
import { ANSWER_GRACE_SECONDS } from '../domain/order.ts';
import type { PurchaseRequest } from '../domain/purchase.ts';
import type { RedisBreaker } from '../guard/redis-breaker.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { reserve, type ReserveInput, type ReserveResult } from '../redis/reservations.ts';
import { homeKeys } from '../redis/shards.ts';
import { createShardStealing } from './shard-stealing.ts';

/** How long a buyer at the sold-out edge waits for unconfirmed publishes before hearing "retry". */
const PENDING_SETTLE_DELAYS_MS = [5, 10, 20, 40, 80, 160, 320, 400];

export interface ReservationDeps {
  redis: RedisClient;
  keys: Keys;
  soldOut: SoldOutFlags;
  inventory: Pick<Inventory, 'loadFromTruth'>;
  ids: IdGenerator;
  /** The purchase path's Redis calls go through the circuit of the node serving the buyer's home shard. */
  redisBreaker?: RedisBreaker;
  /**
   * While an activity has live offers, an offered user's purchase takes the unit held for them.
   * `offering` is a local flag, so a sale without a waitlist pays nothing.
   */
  waitlist?: { offering(activityId: string): boolean; claim(input: ReserveInput): Promise<ReserveResult | undefined> };
  now: () => number;
}

export function createReservation(deps: ReservationDeps) {
  const { redis, keys, inventory, ids } = deps;
  const preheating = new Map<string, Promise<unknown>>();
  /** Redis calls of the purchase path go through the circuit of the node serving `key` (fail fast when it is gone). */
  const viaBreaker = <T>(key: string, fn: () => Promise<T>): Promise<T> => (deps.redisBreaker ? deps.redisBreaker.run(fn, key) : fn());

  /** Redis lost the activity (restart, eviction): rebuild it from MySQL once per instance. */
  function preheatOnce(activity: Activity): Promise<unknown> {
    let pending = preheating.get(activity.id);
    if (!pending) {
      pending = inventory.loadFromTruth(activity).finally(() => preheating.delete(activity.id));
      preheating.set(activity.id, pending);
    }
    return pending;
  }

  /** The reserve script on the buyer's home shard. */
  const askHome = (input: ReserveInput): Promise<ReserveResult> => reserve(redis, keys, input);

  const stealing = createShardStealing({ ...deps, askHome });

  async function reserveOrReplay(request: PurchaseRequest, activity: Activity, orderId: string, nowMs: number): Promise<ReserveResult> {
    const input = {
      activityId: activity.id,
      userId: request.userId,
      requestId: request.requestId,
      quantity: request.quantity,
      limitPerUser: activity.limitPerUser,
      orderId,
      nowMs,
      ttlSeconds: Math.ceil((activity.endAt.getTime() - nowMs) / 1000) + ANSWER_GRACE_SECONDS,
      shards: activity.shards,
    };
    if (deps.waitlist?.offering(activity.id)) {
      const offered = await deps.waitlist.claim(input);
      if (offered) return offered;
    }
    if (activity.shards > 1) return stealing.reserveSharded(activity, input);
    return askHome(input);
  }

  return {
    /**
     * Reserves (or replays the stored answer) under a fresh order id. Short of stock while other
     * publishes are unconfirmed: normally they settle within milliseconds, so it waits a little and
     * asks again, and the buyer hears the true answer (SOLD_OUT, or a unit a failed publish gave
     * back) rather than "retry". Throws when the home shard's Redis node fails, or when Redis lost
     * the activity and it cannot be rebuilt yet (BUSY: its reservations are still in the pipeline).
     */
    async reserve(request: PurchaseRequest, activity: Activity, nowMs: number): Promise<ReserveResult> {
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      const attempt = () => viaBreaker(home.remaining, () => reserveOrReplay(request, activity, ids.next(), nowMs));
      let result = await attempt();
      if (result.kind === 'not-preheated') {
        // Redis lost the activity: rebuild it from MySQL, then ask again. Outside the circuit: a
        // rebuild first waits for the order pipeline to drain (seconds, or BUSY when it does not),
        // which is neither a slow nor a failed Redis and must not open the circuit on the node
        // every other sale there is still selling from.
        await preheatOnce(activity);
        result = await attempt();
      }
      for (const delay of PENDING_SETTLE_DELAYS_MS) {
        if (result.kind !== 'busy') break;
        await sleep(delay);
        result = await attempt();
      }
      return result;
    },
    /** The stored answer of the request, read through its node's circuit (one GET of its own key). */
    storedAnswer(request: PurchaseRequest, activity: Activity): Promise<string | null> {
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      return viaBreaker(home.remaining, () => redis.get(home.request(request.userId, request.requestId)));
    },
  };
}

export type Reservation = ReturnType<typeof createReservation>;
