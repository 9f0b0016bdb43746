/**
 * The purchase path (DESIGN.md, "The purchase, step by step"): edge checks without I/O, the local
 * sold-out flag, one atomic Redis script for idempotency + per-user limit + stock, then the Kafka
 * publish. A 202 is only answered once the reservation is published (or its fate is unknown and
 * left to the worker and reconciliation); a publish that surely failed is released at once.
 */
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { reservationMessage } from '../domain/order.ts';
import type { OrderPublisher } from '../kafka/order-publisher.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { parseStoredAnswer, type ReserveInput, type ReserveResult, release, remaining, reserve } from '../redis/stock.ts';
import type { ActivityCache } from './activity-cache.ts';
import type { Inventory } from './inventory.ts';
import type { Orders } from './orders.ts';
import type { DegradedAdmission } from './degraded-admission.ts';
import type { RedisBreaker } from './redis-breaker.ts';
import type { IdGenerator } from './snowflake.ts';
import type { SoldOutFlags } from './sold-out.ts';

export interface PurchaseRequest {
  userId: string;
  activityId: string;
  requestId: string;
  quantity: number;
  /** Client IP (request.ip: X-Forwarded-For only when SECKILL_TRUST_PROXY=1), for the per-IP limit. */
  ip?: string;
  /** The solved anti-bot challenge, for activities with antiBot "challenge". */
  challenge?: { challengeId: string; nonce: string };
}

export interface PurchaseAccepted {
  orderId: string;
  status: 'QUEUED';
}

/** Checks that run before the reservation (rate limits, anti-bot); issue-specific, pluggable. */
export type AdmissionCheck = (request: PurchaseRequest, activity: Activity) => Promise<void>;

export interface PurchaseDeps {
  redis: RedisClient;
  keys: Keys;
  activities: ActivityCache;
  soldOut: SoldOutFlags;
  inventory: Inventory;
  orders: Orders;
  publisher: OrderPublisher;
  ids: IdGenerator;
  metrics: Metrics;
  log: Logger;
  admissionChecks?: AdmissionCheck[];
  /** Guards the purchase path's Redis calls; while not closed, purchases go to `degrade`. */
  redisBreaker?: RedisBreaker;
  /** Admission while Redis is unreachable (SECKILL_DEGRADE_ADMIT_RATIO); absent → 503 BUSY. */
  degrade?: DegradedAdmission;
  /**
   * Waitlist hook (issue #4): while an activity has live offers, an offered user's purchase takes
   * the unit held for them. `offering` is a local flag, so a sale without a waitlist pays nothing.
   */
  waitlist?: { offering(activityId: string): boolean; claim(input: ReserveInput): Promise<ReserveResult | undefined> };
  now?: () => number;
}

/** Answers and reservations outlive the sale by a day, so late replays still get their answer. */
const ANSWER_GRACE_SECONDS = 86_400;

export function createPurchase(deps: PurchaseDeps) {
  const { redis, keys, activities, soldOut, inventory, orders, publisher, ids, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  const checks = deps.admissionChecks ?? [];
  const preheating = new Map<string, Promise<unknown>>();
  /** Redis calls of the purchase path go through the breaker (fail fast when Redis is gone). */
  const viaBreaker = <T>(fn: () => Promise<T>): Promise<T> => (deps.redisBreaker ? deps.redisBreaker.run(fn) : fn());

  const refuse = (code: 'SOLD_OUT' | 'LIMIT_EXCEEDED') =>
    new AppError(code, code === 'SOLD_OUT' ? 'sold out' : 'this user already holds the maximum units for this activity');

  /** Redis lost the activity (restart, eviction): rebuild it from MySQL once per instance. */
  function preheatOnce(activity: Activity): Promise<unknown> {
    let pending = preheating.get(activity.id);
    if (!pending) {
      pending = inventory.loadFromTruth(activity).finally(() => preheating.delete(activity.id));
      preheating.set(activity.id, pending);
    }
    return pending;
  }

  async function markIfEmpty(activityId: string): Promise<void> {
    try {
      const left = await remaining(redis, keys, activityId);
      if (left !== undefined && left <= 0) soldOut.mark(activityId);
    } catch {
      // The flag is an optimisation only.
    }
  }

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
    };
    if (deps.waitlist?.offering(activity.id)) {
      const offered = await deps.waitlist.claim(input);
      if (offered) return offered;
    }
    let result = await reserve(redis, keys, input);
    if (result.kind === 'not-preheated') {
      await preheatOnce(activity);
      result = await reserve(redis, keys, input);
    }
    return result;
  }

  async function purchase(request: PurchaseRequest): Promise<PurchaseAccepted> {
    const activity = await activities.get(request.activityId);
    if (!activity) throw new AppError('NOT_FOUND', 'activity not found');
    const nowMs = now();
    if (nowMs < activity.startAt.getTime()) throw new AppError('NOT_STARTED', 'the sale has not started');
    if (nowMs >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');

    // Redis unreachable (circuit open): no gate to ask; admit per SECKILL_DEGRADE_ADMIT_RATIO.
    if (deps.redisBreaker && !deps.redisBreaker.isClosed()) {
      for (const check of checks) await check(request, activity);
      if (!deps.degrade) throw new AppError('BUSY', 'reservation unavailable, retry shortly', { retryAfter: 1 });
      return deps.degrade(request, activity, nowMs);
    }

    if (soldOut.isSoldOut(activity.id) && !deps.waitlist?.offering(activity.id)) {
      // Still honour idempotency: a replay of a request that won gets its 202 again. One GET is
      // far cheaper than the reserve script, and only the requestId's own key is read.
      const answer = await viaBreaker(() => redis.get(keys.activity(activity.id).request(request.userId, request.requestId))).catch(
        (error: unknown) => {
          throw new AppError('BUSY', 'reservation unavailable, retry shortly', { cause: error, retryAfter: 1 });
        },
      );
      if (answer) return await answerOf(parseStoredAnswer(answer));
      throw refuse('SOLD_OUT');
    }

    for (const check of checks) await check(request, activity);

    let result: ReserveResult;
    try {
      result = await viaBreaker(() => reserveOrReplay(request, activity, ids.next(), nowMs));
    } catch (error) {
      throw new AppError('BUSY', 'reservation unavailable, retry shortly', { cause: error, retryAfter: 1 });
    }
    if (result.kind !== 'reserved') return await answerOf(result);

    const message = reservationMessage(request, activity, result.orderId, nowMs);
    const [outcome] = await Promise.all([
      publisher.publish(message),
      orders
        .rememberQueued({
          orderId: result.orderId,
          activityId: activity.id,
          userId: request.userId,
          quantity: request.quantity,
          amountCents: request.quantity * activity.priceCents,
          ttlSeconds: Math.ceil((activity.endAt.getTime() - nowMs) / 1000) + ANSWER_GRACE_SECONDS,
        })
        .catch((error: unknown) => log.warn({ err: error }, 'could not store the QUEUED view')),
    ]);
    if (outcome === 'failed') {
      // Surely not in Kafka: give the units and the requestId back, so nothing is lost and the
      // client's retry with the same requestId starts afresh.
      await release(redis, keys, {
        activityId: activity.id,
        userId: request.userId,
        requestId: request.requestId,
        orderId: result.orderId,
        quantity: request.quantity,
        segments: activity.segments,
        returnStock: true,
        forgetAnswer: true,
      })
        .then(() => orders.forgetQueued(result.orderId))
        .catch((error: unknown) => log.error({ err: error, orderId: result.orderId }, 'release after failed publish failed; reconciliation will repair'));
      metrics.purchases.inc({ outcome: 'BUSY' });
      throw new AppError('BUSY', 'order queue unavailable, retry shortly', { retryAfter: 1 });
    }
    if (outcome === 'unknown') log.warn({ orderId: result.orderId }, 'publish outcome unknown; worker and reconciliation decide');
    metrics.purchases.inc({ outcome: 'RESERVED' });
    return { orderId: result.orderId, status: 'QUEUED' };

    async function answerOf(r: ReserveResult): Promise<PurchaseAccepted> {
      switch (r.kind) {
        case 'replay':
          metrics.purchases.inc({ outcome: 'REPLAY' });
          return { orderId: r.orderId, status: 'QUEUED' };
        case 'refused':
          // Only a truly empty activity raises the local flag: a SOLD_OUT for quantity 3 with 2
          // units left, or a replayed old SOLD_OUT answer, must not stop everyone else buying.
          if (r.code === 'SOLD_OUT') await markIfEmpty(activity!.id);
          metrics.purchases.inc({ outcome: r.code });
          throw refuse(r.code);
        default:
          metrics.purchases.inc({ outcome: 'BUSY' });
          throw new AppError('BUSY', 'the sale is being prepared, retry shortly', { retryAfter: 1 });
      }
    }
  }

  return { purchase };
}

export type Purchase = ReturnType<typeof createPurchase>;
