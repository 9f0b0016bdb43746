/**
 * Purchases while Redis is unreachable (the breaker is open), per SECKILL_DEGRADE_ADMIT_RATIO:
 * 0 → 503 BUSY; a ratio in (0, 1] → that fraction, at random, goes straight to Kafka with a fresh
 * order id and `degraded: true`, answered 202 QUEUED. No gate checked stock or the user's count:
 * the order worker's MySQL transaction does (order-persister.ts: `available >= n` under the stock
 * row lock, and the user_quota row), so promises 1 and 3 still hold; the surplus turns FAILED.
 *
 * Idempotency without Redis is per instance only: a (user, activity, requestId) admitted here gets
 * the same order id on a retry to this instance. A retry landing on another instance may get a
 * second id; the persister gives that id a row of its own, FAILED DUPLICATE_REQUEST, so the client
 * holding it learns its fate and the request still became one order (counted as a guarantee breach).
 */
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { reservationMessage } from '../domain/order.ts';
import type { OrderPublisher } from './order-publisher.ts';
import type { PurchaseAccepted, PurchaseRequest } from '../domain/purchase.ts';
import type { IdGenerator } from '../platform/ids.ts';

export type DegradedAdmission = (request: PurchaseRequest, activity: Activity, nowMs: number) => Promise<PurchaseAccepted>;

export interface DegradedDeps {
  ratio: number;
  ids: IdGenerator;
  publisher: OrderPublisher;
  random?: () => number;
  /** Admitted answers remembered for replays (bounded). */
  maxRemembered?: number;
}

const busy = () => new AppError('BUSY', 'reservations unavailable, retry shortly', { retryAfter: 1 });

export function createDegradedAdmission(deps: DegradedDeps): DegradedAdmission & { forget(): void } {
  const { ratio, ids, publisher } = deps;
  const random = deps.random ?? Math.random;
  const maxRemembered = deps.maxRemembered ?? 100_000;
  const admitted = new Map<string, string>();

  const admit = async (request: PurchaseRequest, activity: Activity, nowMs: number): Promise<PurchaseAccepted> => {
    const key = `${activity.id}\u0000${request.userId}\u0000${request.requestId}`;
    const known = admitted.get(key);
    if (known) return { orderId: known, status: 'QUEUED', outcome: 'REPLAY' };
    if (ratio <= 0 || random() >= ratio) {
      throw busy();
    }
    const message = reservationMessage(request, activity, ids.next(), nowMs, true);
    const outcome = await publisher.publish(message);
    if (outcome === 'failed') {
      throw busy();
    }
    if (admitted.size >= maxRemembered) admitted.clear();
    admitted.set(key, message.orderId);
    return { orderId: message.orderId, status: 'QUEUED', outcome: 'DEGRADED' };
  };
  return Object.assign(admit, { forget: () => admitted.clear() });
}
