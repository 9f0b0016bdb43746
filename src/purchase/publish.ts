/**
 * Publishing a fresh reservation and settling its stored answer (docs/design.md, step 4): 202 when
 * Kafka has it, or may have it. A publish that surely failed is released at once (units and
 * requestId back, 503: a retry starts afresh, and no client was told 202). One whose outcome is
 * unknown is answered 202 and sent again in the background until Kafka acknowledges it; the order
 * id makes duplicates harmless, and reconciliation publishes it again after that if it must.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { ANSWER_GRACE_SECONDS, type ReservationMessage, reservationMessage } from '../domain/order.ts';
import type { PurchaseAccepted, PurchaseRequest } from '../domain/purchase.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import type { Orders } from '../lifecycle/orders.ts';
import type { Logger } from '../platform/log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { confirm, release, waitForReplicas } from '../redis/reservations.ts';
import { homeKeys } from '../redis/shards.ts';
import type { OrderPublisher } from './order-publisher.ts';
import type { UnsettledPublishes } from './unsettled-publishes.ts';

/** A publish whose outcome was unknown is sent again (idempotent: the worker dedups by order id). */
const REPUBLISH_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15_000, 30_000];

export interface PublishDeps {
  redis: RedisClient;
  keys: Keys;
  publisher: OrderPublisher;
  orders: Pick<Orders, 'rememberQueued' | 'forgetQueued'>;
  soldOut: Pick<SoldOutFlags, 'announceReturned'>;
  /** This process's reservations whose publish is unacknowledged: written back if Redis loses them. */
  unsettled: Pick<UnsettledPublishes, 'add' | 'confirmed' | 'settled'>;
  log: Logger;
  /** Redis WAIT after each reservation (SECKILL_REDIS_WAIT_REPLICAS); absent or 0 replicas: none. */
  replication?: { replicas: number; timeoutMs: number; onShort?: () => void };
}

export function createPublishing(deps: PublishDeps) {
  const { redis, keys, publisher, orders, soldOut, unsettled, log } = deps;

  /**
   * Sends a message whose publish outcome was unknown until Kafka acknowledges it, a bounded
   * number of times: a 202 was given, so the order must reach MySQL (promise 4). A duplicate in
   * the topic is harmless (the worker's unique order id); if every attempt fails, reconciliation
   * publishes it again from the reservation once Kafka is back.
   */
  async function republish(message: ReservationMessage): Promise<void> {
    for (const delay of REPUBLISH_DELAYS_MS) {
      await sleep(delay);
      if ((await publisher.publish(message)) === 'published') return unsettled.settled(message.orderId);
    }
    // Still watched (unsettled) while this process lives: if Redis loses the reservation before
    // reconciliation has published it, it is written back.
    log.error({ orderId: message.orderId }, 'publish still not acknowledged; reconciliation will publish it again');
  }

  /** Publishes a fresh reservation and settles its stored answer: 202 when Kafka has it (or may). */
  async function publishReservation(request: PurchaseRequest, activity: Activity, orderId: string, nowMs: number): Promise<PurchaseAccepted> {
    const message = reservationMessage(request, activity, orderId, nowMs);
    unsettled.add(message, activity);
    const replication = deps.replication;
    if (replication && replication.replicas > 0) {
      // Not a refusal: the reservation stands either way; a short count is the documented risk
      // of asynchronous replication (a failover may lose it), made visible.
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      const acknowledged = await waitForReplicas(redis, home, replication.replicas, replication.timeoutMs).catch(() => 0);
      if (acknowledged < replication.replicas) replication.onShort?.();
    }
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
    if (outcome !== 'unknown') unsettled.settled(orderId);
    if (outcome === 'failed') {
      // Surely not in Kafka, and no client was told 202 (replays saw "pending"): give the units
      // and the requestId back, so nothing is lost and a retry starts afresh. (No longer watched
      // first: a release is not a loss to write back.)
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
      throw new AppError('BUSY', 'order queue unavailable, retry shortly', { retryAfter: 1 });
    }
    if (outcome === 'unknown') {
      log.warn({ orderId }, 'publish outcome unknown; answered 202 and publishing again');
      unsettled.confirmed(orderId);
      void republish(message);
    }
    // The answer turns from pending to this order id. If Redis cannot be told, replays see
    // "pending" (503) until reconciliation confirms it; the 202 below stands either way.
    await confirm(redis, keys, { ...ids, shards: activity.shards }).catch((error: unknown) => log.warn({ err: error, orderId }, 'could not confirm the stored answer'));
    return { orderId, status: 'QUEUED', outcome: 'RESERVED' };
  }

  return { publishReservation };
}
