/**
 * The purchase path (DESIGN.md, "The purchase, step by step"): edge checks without I/O, the local
 * sold-out flag, one atomic Redis script for idempotency + per-user limit + stock, then the Kafka
 * publish. A 202 is only answered once the reservation is published (or its fate is unknown, and
 * it is published again until Kafka has it); a publish that surely failed is released at once.
 * Until then the request's stored answer is "pending", so no replay is told 202 too early.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { ANSWER_GRACE_SECONDS, type ReservationMessage, reservationMessage } from '../domain/order.ts';
import type { OrderPublisher } from '../kafka/order-publisher.ts';
import type { Logger } from '../log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { ActivityKeys, Keys } from '../redis/keys.ts';
import { homeShard } from '../redis/keys.ts';
import {
  clearTransit,
  confirm,
  homeKeys,
  parseStoredAnswer,
  type ReserveInput,
  type ReserveResult,
  release,
  remaining,
  reserve,
  shardSegments,
  stealGive,
  stealTake,
  waitForReplicas,
} from '../redis/stock.ts';
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
  /** How it was accepted, for seckill_purchase_total (counted once, by the route); not sent to the client. */
  outcome: 'RESERVED' | 'REPLAY' | 'DEGRADED';
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
  /** Redis WAIT after each reservation (SECKILL_REDIS_WAIT_REPLICAS); absent or 0 replicas: none. */
  replication?: { replicas: number; timeoutMs: number; onShort?: () => void };
  now?: () => number;
}

/** A publish whose outcome was unknown is sent again (idempotent: the worker dedups by order id). */
const REPUBLISH_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15_000, 30_000];
/** How long a buyer at the sold-out edge waits for unconfirmed publishes before hearing "retry". */
const PENDING_SETTLE_DELAYS_MS = [5, 10, 20, 40, 80, 160, 320, 400];

const busy = (message: string, cause?: unknown) => new AppError('BUSY', message, { cause, retryAfter: 1 });

export function createPurchase(deps: PurchaseDeps) {
  const { redis, keys, activities, soldOut, inventory, orders, publisher, ids, log } = deps;
  const now = deps.now ?? Date.now;
  const checks = deps.admissionChecks ?? [];
  const preheating = new Map<string, Promise<unknown>>();
  /**
   * This instance's reservations whose publish is in progress, by order id: a double click that
   * lands here while the first click's publish is pending shares its outcome (202 or 503) instead
   * of being told 202 for an order that may still be released.
   */
  const publishing = new Map<string, Promise<PurchaseAccepted>>();
  /** Redis calls of the purchase path go through the circuit of the node serving `key` (fail fast when it is gone). */
  const viaBreaker = <T>(key: string, fn: () => Promise<T>): Promise<T> => (deps.redisBreaker ? deps.redisBreaker.run(fn, key) : fn());

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

  async function markIfEmpty(activityId: string, shards: number): Promise<void> {
    try {
      const left = await remaining(redis, keys, activityId, shards);
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
      shards: activity.shards,
    };
    if (deps.waitlist?.offering(activity.id)) {
      const offered = await deps.waitlist.claim(input);
      if (offered) return offered;
    }
    if (activity.shards > 1) return reserveSharded(activity, input);
    let result = await reserve(redis, keys, input);
    if (result.kind === 'not-preheated') {
      await preheatOnce(activity);
      result = await reserve(redis, keys, input);
    }
    return result;
  }

  /**
   * A call on a donor shard through its node's circuit; undefined when that node is unreachable, so
   * a failed master costs its own shards' units, never the home shard's buyer an error (a take that
   * failed midway leaves units in transit, which reconciliation finishes).
   */
  async function onDonor<T>(donor: ActivityKeys, fn: () => Promise<T>): Promise<T | undefined> {
    const breaker = deps.redisBreaker;
    if (breaker && !breaker.isClosed(donor.remaining)) return undefined;
    try {
      return await (breaker ? breaker.run(fn, donor.remaining) : fn());
    } catch {
      return undefined;
    }
  }

  /**
   * A sharded activity (issue #11): reserve on the buyer's home shard; when it is short, steal
   * units from shards this instance does not believe empty (take on the donor, give on the home
   * shard, forget the transit: no step can create a unit) and ask the home shard again. Only when
   * no shard had units to give is the home shard asked for the final answer (SOLD_OUT is stored
   * there, or "busy" while publishes are unconfirmed on any shard asked).
   */
  async function reserveSharded(activity: Activity, input: ReserveInput): Promise<ReserveResult> {
    const shards = activity.shards;
    const home = homeShard(input.userId, shards);
    const ask = async (shardOnly: boolean): Promise<ReserveResult> => {
      let result = await reserve(redis, keys, { ...input, shardOnly });
      if (result.kind === 'not-preheated') {
        await preheatOnce(activity);
        result = await reserve(redis, keys, { ...input, shardOnly });
      }
      return result;
    };
    let result = await ask(true);
    if (result.kind !== 'shard-empty') return result;
    soldOut.markShardEmpty(activity.id, home);
    let pendingSomewhere = result.pending > 0;
    const homeK = homeKeys(keys, activity.id, input.userId, shards);
    const segments = shardSegments(activity.segments, shards);
    // Donors in a random order from a random start, so thieves spread over the full shards.
    const start = Math.floor(Math.random() * shards);
    for (let step = 0; step < shards; step++) {
      const donor = (start + step) % shards;
      if (donor === home || soldOut.shardEmpty(activity.id, donor)) continue;
      const donorK = keys.shard(activity.id, shards, donor);
      const transferId = `${input.orderId}.${donor}`;
      const took = await onDonor(donorK, () => stealTake(redis, donorK, { transferId, want: input.quantity, nowMs: now(), toShard: home }));
      if (!took) {
        // The donor's node is down: it may still hold units, so the final answer is "busy", not SOLD_OUT.
        pendingSomewhere = true;
        continue;
      }
      const { taken, pending } = took;
      pendingSomewhere ||= pending > 0;
      if (taken === -3) {
        await preheatOnce(activity);
        continue;
      }
      if (taken <= 0) {
        soldOut.markShardEmpty(activity.id, donor);
        continue;
      }
      const given = await stealGive(redis, homeK, { transferId, units: taken, segments });
      // Best effort: a transit entry left behind (donor unreachable now) is cleared by reconciliation.
      await onDonor(donorK, () => clearTransit(redis, donorK, transferId));
      if (given.outcome !== 'given') continue;
      soldOut.markShardHolding(activity.id, home);
      // Units left over on the home shard after this buyer: instances that marked it empty must look again.
      if (given.remaining > input.quantity) void soldOut.announceReturned(activity.id).catch(() => {});
      result = await ask(true);
      if (result.kind !== 'shard-empty') return result;
      pendingSomewhere ||= result.pending > 0;
    }
    if (pendingSomewhere) return { kind: 'busy' };
    return ask(false);
  }

  /**
   * Sends a message whose publish outcome was unknown until Kafka acknowledges it, a bounded
   * number of times: a 202 was given, so the order must reach MySQL (promise 4). A duplicate in
   * the topic is harmless (the worker's unique order id); if every attempt fails, reconciliation
   * records the order FAILED (LOST) and returns its units.
   */
  async function republish(message: ReservationMessage): Promise<void> {
    for (const delay of REPUBLISH_DELAYS_MS) {
      await sleep(delay);
      if ((await publisher.publish(message)) === 'published') return;
    }
    log.error({ orderId: message.orderId }, 'publish still not acknowledged; reconciliation decides');
  }

  /** Publishes a fresh reservation and settles its stored answer: 202 when Kafka has it (or may). */
  async function publishReservation(request: PurchaseRequest, activity: Activity, orderId: string, nowMs: number): Promise<PurchaseAccepted> {
    const replication = deps.replication;
    if (replication && replication.replicas > 0) {
      // Not a refusal: the reservation stands either way; a short count is the documented risk
      // of asynchronous replication (a failover may lose it), made visible.
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      const acknowledged = await waitForReplicas(redis, home, replication.replicas, replication.timeoutMs).catch(() => 0);
      if (acknowledged < replication.replicas) replication.onShort?.();
    }
    const message = reservationMessage(request, activity, orderId, nowMs);
    const [outcome] = await Promise.all([
      publisher.publish(message),
      orders
        .rememberQueued({
          orderId,
          activityId: activity.id,
          userId: request.userId,
          quantity: request.quantity,
          amountCents: request.quantity * activity.priceCents,
          ttlSeconds: Math.ceil((activity.endAt.getTime() - nowMs) / 1000) + ANSWER_GRACE_SECONDS,
        })
        .catch((error: unknown) => log.warn({ err: error }, 'could not store the QUEUED view')),
    ]);
    const ids = { activityId: activity.id, userId: request.userId, requestId: request.requestId, orderId };
    if (outcome === 'failed') {
      // Surely not in Kafka, and no client was told 202 (replays saw "pending"): give the units
      // and the requestId back, so nothing is lost and a retry starts afresh.
      await release(redis, keys, {
        ...ids,
        quantity: request.quantity,
        segments: activity.segments,
        shards: activity.shards,
        returnStock: true,
        forgetAnswer: true,
      })
        .then(async (released) => {
          await orders.forgetQueued(orderId);
          // Units came back: every instance's sold-out flag must drop, or they would go unsold.
          if (released) await soldOut.announceReturned(activity.id);
        })
        .catch((error: unknown) => log.error({ err: error, orderId }, 'release after failed publish failed; reconciliation will repair'));
      throw busy('order queue unavailable, retry shortly');
    }
    if (outcome === 'unknown') {
      log.warn({ orderId }, 'publish outcome unknown; answered 202 and publishing again');
      void republish(message);
    }
    // The answer turns from pending to this order id. If Redis cannot be told, replays see
    // "pending" (503) until reconciliation confirms it; the 202 below stands either way.
    await confirm(redis, keys, { ...ids, shards: activity.shards }).catch((error: unknown) => log.warn({ err: error, orderId }, 'could not confirm the stored answer'));
    return { orderId, status: 'QUEUED', outcome: 'RESERVED' };
  }

  async function purchase(request: PurchaseRequest): Promise<PurchaseAccepted> {
    const activity = await activities.get(request.activityId);
    if (!activity) throw new AppError('NOT_FOUND', 'activity not found');
    const nowMs = now();
    if (nowMs < activity.startAt.getTime()) throw new AppError('NOT_STARTED', 'the sale has not started');
    if (nowMs >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');

    // The buyer's home shard (their count, answers and reservations) decides which Redis node is asked.
    const home = homeKeys(keys, activity.id, request.userId, activity.shards);
    // That node unreachable (circuit open): no gate to ask; admit per SECKILL_DEGRADE_ADMIT_RATIO.
    // Other nodes' circuits, and so other shards' buyers, are not affected.
    if (deps.redisBreaker && !deps.redisBreaker.isClosed(home.remaining)) {
      for (const check of checks) await check(request, activity);
      if (!deps.degrade) throw new AppError('BUSY', 'reservation unavailable, retry shortly', { retryAfter: 1 });
      return deps.degrade(request, activity, nowMs);
    }

    if (soldOut.isSoldOut(activity.id) && !deps.waitlist?.offering(activity.id)) {
      // Still honour idempotency: a replay of a request that won gets its 202 again. One GET is
      // far cheaper than the reserve script, and only the requestId's own key is read.
      const answer = await viaBreaker(home.remaining, () => redis.get(home.request(request.userId, request.requestId))).catch(
        (error: unknown) => {
          throw busy('reservation unavailable, retry shortly', error);
        },
      );
      if (answer) return await answerOf(parseStoredAnswer(answer));
      throw refuse('SOLD_OUT');
    }

    for (const check of checks) await check(request, activity);

    let result: ReserveResult;
    try {
      result = await viaBreaker(home.remaining, () => reserveOrReplay(request, activity, ids.next(), nowMs));
      // Short of stock while other publishes are unconfirmed: normally they settle within
      // milliseconds, so wait a little and ask again, and the buyer hears the true answer
      // (SOLD_OUT, or a unit a failed publish gave back) rather than "retry".
      for (const delay of PENDING_SETTLE_DELAYS_MS) {
        if (result.kind !== 'busy') break;
        await sleep(delay);
        result = await viaBreaker(home.remaining, () => reserveOrReplay(request, activity, ids.next(), nowMs));
      }
    } catch (error) {
      throw busy('reservation unavailable, retry shortly', error);
    }
    if (result.kind !== 'reserved') return await answerOf(result);

    const { orderId } = result;
    const accepted = publishReservation(request, activity, orderId, nowMs).finally(() => publishing.delete(orderId));
    publishing.set(orderId, accepted);
    return await accepted;

    async function answerOf(r: ReserveResult): Promise<PurchaseAccepted> {
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
          if (r.code === 'SOLD_OUT') await markIfEmpty(activity!.id, activity!.shards);
          throw refuse(r.code);
        case 'busy':
          throw busy('the last units are being confirmed, retry shortly');
        default:
          throw busy('the sale is being prepared, retry shortly');
      }
    }
  }

  return { purchase };
}

export type Purchase = ReturnType<typeof createPurchase>;
