/**
 * The purchase path (docs/design.md, "The purchase, step by step"), in order: the sale's window and
 * the buyer's Redis node (admission.ts), the local sold-out flag, the admission checks, one atomic
 * Redis script for idempotency + per-user limit + stock (reservation.ts, shard-stealing.ts), then
 * the Kafka publish (publish.ts). A 202 is only answered once the reservation is published (or its
 * fate is unknown, and it is published again until Kafka has it); a publish that surely failed is
 * released at once. Until then the request's stored answer is "pending", so no replay is told 202
 * too early. This module orders those steps and turns each outcome into the buyer's answer.
 */
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import type { AdmissionCheck, PurchaseAccepted, PurchaseRequest } from '../domain/purchase.ts';
import type { RedisBreaker } from '../guard/redis-breaker.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import type { Orders } from '../lifecycle/orders.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { Logger } from '../platform/log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { parseStoredAnswer, type ReserveInput, type ReserveResult } from '../redis/reservations.ts';
import { homeKeys } from '../redis/shards.ts';
import { remaining } from '../redis/stock.ts';
import { assertOnSale, createAdmission } from './admission.ts';
import type { DegradedAdmission } from './degraded-admission.ts';
import type { OrderPublisher } from './order-publisher.ts';
import { createPublishing } from './publish.ts';
import { createReservation } from './reservation.ts';
import type { UnsettledPublishes } from './unsettled-publishes.ts';

export interface PurchaseDeps {
  redis: RedisClient;
  keys: Keys;
  activities: ActivityCache;
  soldOut: SoldOutFlags;
  inventory: Inventory;
  orders: Orders;
  publisher: OrderPublisher;
  /** This process's reservations whose publish is unacknowledged (written back if Redis loses them). */
  unsettled: UnsettledPublishes;
  ids: IdGenerator;
  log: Logger;
  admissionChecks?: AdmissionCheck[];
  /** Guards the purchase path's Redis calls; while not closed, purchases go to `degrade`. */
  redisBreaker?: RedisBreaker;
  /** Admission while Redis is unreachable (SECKILL_DEGRADE_ADMIT_RATIO); absent → 503 BUSY. */
  degrade?: DegradedAdmission;
  /**
   * Waitlist hook: while an activity has live offers, an offered user's purchase takes the unit
   * held for them. `offering` is a local flag, so a sale without a waitlist pays nothing.
   */
  waitlist?: { offering(activityId: string): boolean; claim(input: ReserveInput): Promise<ReserveResult | undefined> };
  /** Redis WAIT after each reservation (SECKILL_REDIS_WAIT_REPLICAS); absent or 0 replicas: none. */
  replication?: { replicas: number; timeoutMs: number; onShort?: () => void };
  now?: () => number;
}

const busy = (message: string, cause?: unknown) => new AppError('BUSY', message, { cause, retryAfter: 1 });

const refuse = (code: 'SOLD_OUT' | 'LIMIT_EXCEEDED') =>
  new AppError(code, code === 'SOLD_OUT' ? 'sold out' : 'this user already holds the maximum units for this activity');

export function createPurchase(deps: PurchaseDeps) {
  const { redis, keys, activities, soldOut } = deps;
  const now = deps.now ?? Date.now;
  const admission = createAdmission({ checks: deps.admissionChecks, redisBreaker: deps.redisBreaker, degrade: deps.degrade });
  const reservation = createReservation({ ...deps, now });
  const { publishReservation } = createPublishing(deps);
  /**
   * This instance's reservations whose publish is in progress, by order id: a double click that
   * lands here while the first click's publish is pending shares its outcome (202 or 503) instead
   * of being told 202 for an order that may still be released.
   */
  const publishing = new Map<string, Promise<PurchaseAccepted>>();

  async function markIfEmpty(activityId: string, shards: number): Promise<void> {
    try {
      const left = await remaining(redis, keys, activityId, shards);
      if (left !== undefined && left <= 0) soldOut.mark(activityId);
    } catch {
      // The flag is an optimisation only.
    }
  }

  /** The buyer's answer for a reservation that did not reserve anything new. */
  async function answerOf(activity: Activity, r: ReserveResult): Promise<PurchaseAccepted> {
    switch (r.kind) {
      case 'replay':
        return { orderId: r.orderId, status: 'QUEUED', outcome: 'REPLAY' };
      case 'pending': {
        // The first request's publish is still undecided. On this instance, share its outcome;
        // elsewhere, say "retry": a 202 now could name an order whose publish then fails.
        const inFlight = publishing.get(r.orderId);
        if (inFlight) return { ...(await inFlight), outcome: 'REPLAY' };
        throw busy('this request is still being processed, retry shortly');
      }
      case 'refused':
        // Only a truly empty activity raises the local flag: a SOLD_OUT for quantity 3 with 2
        // units left, or a replayed old SOLD_OUT answer, must not stop everyone else buying.
        if (r.code === 'SOLD_OUT') await markIfEmpty(activity.id, activity.shards);
        throw refuse(r.code);
      case 'busy':
        throw busy('the last units are being confirmed, retry shortly');
      default:
        throw busy('the sale is being prepared, retry shortly');
    }
  }

  async function purchase(request: PurchaseRequest): Promise<PurchaseAccepted> {
    const activity = await activities.get(request.activityId);
    if (!activity) throw new AppError('NOT_FOUND', 'activity not found');
    const nowMs = now();
    assertOnSale(activity, nowMs);

    // The buyer's home shard (their count, answers and reservations) decides which Redis node is asked.
    const home = homeKeys(keys, activity.id, request.userId, activity.shards);
    if (admission.redisAway(home.remaining)) return admission.withoutRedis(request, activity, nowMs);

    if (soldOut.isSoldOut(activity.id) && !deps.waitlist?.offering(activity.id)) {
      // Still honour idempotency: a replay of a request that won gets its 202 again. One GET is
      // far cheaper than the reserve script, and only the requestId's own key is read.
      const answer = await reservation.storedAnswer(request, activity).catch((error: unknown) => {
        throw busy('reservation unavailable, retry shortly', error);
      });
      if (answer) return await answerOf(activity, parseStoredAnswer(answer));
      throw refuse('SOLD_OUT');
    }

    await admission.check(request, activity);

    let result: ReserveResult;
    try {
      result = await reservation.reserve(request, activity, nowMs);
    } catch (error) {
      throw busy('reservation unavailable, retry shortly', error);
    }
    if (result.kind !== 'reserved') return await answerOf(activity, result);

    const { orderId } = result;
    const accepted = publishReservation(request, activity, orderId, nowMs).finally(() => publishing.delete(orderId));
    publishing.set(orderId, accepted);
    return await accepted;
  }

  return { purchase };
}

export type Purchase = ReturnType<typeof createPurchase>;
