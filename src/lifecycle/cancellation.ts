/**
 * Cancelling orders (user, failed payment, payment timeout): docs/design.md, "Order lifecycle".
 * Step 1, in the caller's MySQL transaction: the status moves PENDING_PAYMENT → CANCELLED only by
 * compare-and-set (a payment racing us finds the row already moved, and the loser is refunded),
 * `locked → available`, the user's quota freed, ORDER_CANCELLED in the outbox.
 * Step 2, still inside the transaction (see cancelLocked): Redis gets the units back through the
 * idempotent restock (its marker means a retry or a reconciliation never returns them twice),
 * chained with a waitlist pass so waiting users are offered them first. After the commit every
 * instance clears its sold-out flag and the owner's WebSocket hears the new status. A crash
 * between the steps is repaired by reconciliation.
 */
import type { Db, Trx } from '../db/client.ts';
import { lockOrder, markCancelled, toOrder } from '../db/repositories/orders.ts';
import { appendOutbox } from '../db/repositories/outbox.ts';
import { freeQuota, unlockUnits } from '../db/repositories/stock.ts';
import type { OrderRow } from '../db/schema.ts';
import { inTransaction, retryTransaction } from '../db/tx.ts';
import { AppError } from '../domain/errors.ts';
import { orderSnapshot } from '../domain/events.ts';
import type { CancelReason, Order } from '../domain/order.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';
import type { Logger } from '../platform/log.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { type OfferPass, restockAndOffer } from '../redis/waitlist.ts';
import type { Orders } from './orders.ts';
import type { Waitlist } from './waitlist.ts';

export interface Cancellation {
  /**
   * MySQL step: cancels those of `rows` (locked FOR UPDATE by the caller) still PENDING_PAYMENT,
   * in the caller's transaction. Returns the orders this call cancelled (the CAS winners).
   */
  cancelLocked(trx: Trx, rows: OrderRow[], reason: CancelReason): Promise<Order[]>;
  /**
   * cancelLocked's MySQL writes alone, without the Redis return. Exposed so a test can stand for
   * a process whose Redis return failed (Redis unreachable) while its MySQL commit went through.
   */
  cancelInMysql(trx: Trx, rows: OrderRow[], reason: CancelReason): Promise<Order[]>;
  /** Redis step, after the commit: units back (idempotent), waitlist offers, flags, WebSocket. */
  returnUnits(orders: Order[]): Promise<void>;
  /** `POST /orders/{id}/cancel` by the owner. */
  cancelByUser(userId: string, orderId: string): Promise<Order>;
}

export interface CancellationDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  activities: ActivityCache;
  soldOut: SoldOutFlags;
  orders: Orders;
  waitlist: Waitlist;
  log: Logger;
}

export function createCancellation(deps: CancellationDeps): Cancellation {
  const { db, redis, keys, activities, soldOut, orders, waitlist } = deps;
  const log = deps.log.child({ component: 'cancellation' });

  async function cancelInMysql(trx: Trx, rows: OrderRow[], reason: CancelReason): Promise<Order[]> {
    const cancelled: Order[] = [];
    for (const row of rows) {
      if (row.status !== 'PENDING_PAYMENT') continue;
      if (!(await markCancelled(trx, String(row.id), reason))) continue;
      cancelled.push(toOrder({ ...row, status: 'CANCELLED', reason }));
    }
    if (cancelled.length === 0) return cancelled;

    // One stock update per activity slot (the slot each order's units were locked in), in
    // (activity, slot) order: two reapers never lock stock rows crosswise.
    const perSlot = new Map<string, { activityId: string; slot: number; units: number }>();
    const slotOf = new Map(rows.map((r) => [String(r.id), r.stock_slot]));
    for (const o of cancelled) {
      const slot = slotOf.get(o.orderId) ?? 0;
      const key = `${o.activityId}/${slot}`;
      const entry = perSlot.get(key) ?? { activityId: o.activityId, slot, units: 0 };
      entry.units += o.quantity;
      perSlot.set(key, entry);
    }
    const ordered = [...perSlot.values()].sort((a, b) => (a.activityId === b.activityId ? a.slot - b.slot : BigInt(a.activityId) < BigInt(b.activityId) ? -1 : 1));
    for (const { activityId, slot, units } of ordered) {
      if (!(await unlockUnits(trx, activityId, slot, units))) throw new Error(`activity ${activityId} has fewer than ${units} locked units in slot ${slot}`);
    }
    for (const o of [...cancelled].sort((a, b) => (a.userId < b.userId ? -1 : 1))) await freeQuota(trx, o.activityId, o.userId, o.quantity);
    await appendOutbox(
      trx,
      cancelled.map((o) => ({ type: 'ORDER_CANCELLED', orderId: o.orderId, payload: orderSnapshot(o) })),
    );
    return cancelled;
  }

  async function cancelLocked(trx: Trx, rows: OrderRow[], reason: CancelReason): Promise<Order[]> {
    const cancelled = await cancelInMysql(trx, rows, reason);
    // Return the units to Redis while this transaction still holds the stock rows: a preheat or
    // reconciliation (which reads `available` under the same lock) then sees either neither the
    // MySQL release nor the Redis return, or both — never the one without the other, which
    // would count the units twice. Should the commit fail after this, Redis merely offers a unit
    // too many until the next reload, and MySQL refuses it.
    for (const order of cancelled) await restockInRedis(order);
    return cancelled;
  }

  /** Offers made by the restocks of this process, announced after the commit. */
  const passes = new Map<string, OfferPass>();

  async function restockInRedis(order: Order): Promise<void> {
    try {
      const activity = await activities.get(order.activityId);
      const { pass } = await restockAndOffer(
        redis,
        keys,
        {
          activityId: order.activityId,
          userId: order.userId,
          orderId: order.orderId,
          quantity: order.quantity,
          segments: activity?.segments ?? 1,
          shards: activity?.shards ?? 1,
        },
        Date.now(),
        waitlist.offerMs,
      );
      passes.set(order.orderId, pass);
    } catch (error) {
      // MySQL holds the truth; reconciliation returns the units later (the marker is unset).
      log.error({ err: error, orderId: order.orderId }, 'units not returned to Redis; reconciliation will');
    }
  }

  async function returnUnits(cancelled: Order[]): Promise<void> {
    const touched = new Set<string>();
    for (const order of cancelled) {
      // Orders cancelled elsewhere (reconciliation repairing a crash) are restocked here.
      if (!passes.has(order.orderId)) await restockInRedis(order);
      const pass = passes.get(order.orderId);
      passes.delete(order.orderId);
      if (pass) {
        await waitlist.announcePass(order.activityId, pass).catch((error: unknown) => log.warn({ err: error }, 'waitlist announce failed'));
        touched.add(order.activityId);
      }
      await orders.announce(order).catch((error: unknown) => log.warn({ err: error }, 'order announce failed'));
    }
    for (const activityId of touched) await soldOut.announceReturned(activityId).catch(() => {});
  }


  return {
    cancelLocked,
    cancelInMysql,
    returnUnits,

    async cancelByUser(userId, orderId) {
      const outcome = await retryTransaction(() =>
        inTransaction(db, async (trx) => {
          const row = await lockOrder(trx, orderId);
          if (!row || row.user_id !== userId) return { kind: 'missing' as const };
          if (row.status === 'CANCELLED') return { kind: 'unchanged' as const, order: toOrder(row) };
          if (row.status !== 'PENDING_PAYMENT') return { kind: 'refused' as const, status: row.status };
          const [order] = await cancelLocked(trx, [row], 'USER_CANCELLED');
          return order ? { kind: 'cancelled' as const, order } : { kind: 'missing' as const };
        }),
      );
      switch (outcome.kind) {
        case 'missing': {
          // Not in MySQL yet: a QUEUED order (reserved, being persisted) cannot be cancelled yet.
          const order = await orders.get(userId, orderId);
          throw new AppError('ORDER_NOT_CANCELLABLE', `order is ${order.status}; retry once it is PENDING_PAYMENT`);
        }
        case 'refused':
          throw new AppError('ORDER_NOT_CANCELLABLE', `order is ${outcome.status}`);
        case 'unchanged':
          return outcome.order;
        default:
          await returnUnits([outcome.order]);
          return outcome.order;
      }
    },
  };
}
