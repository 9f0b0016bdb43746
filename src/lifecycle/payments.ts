/**
 * Payments (docs/api.md, "Payment provider"): `pay` opens one payment per order (unique order_id, so
 * paying twice returns the same one); the provider's signed callback settles it. The order moves
 * only by compare-and-set in MySQL, in the same transaction as the payment row and the outbox:
 * SUCCEEDED wins only over PENDING_PAYMENT (locked → sold); if the reaper or the user cancelled
 * first, the order stays CANCELLED and the payment is marked REFUND_REQUIRED — no unit is ever
 * sold twice. FAILED cancels the order (PAYMENT_FAILED) and its units go back on sale.
 */
import type { Db } from '../db/client.ts';
import { lockOrder, markPaid, toOrder } from '../db/repositories/orders.ts';
import { appendOutbox } from '../db/repositories/outbox.ts';
import {
  findPayment,
  findPaymentOfOrder,
  findRefund,
  insertPayment,
  listRefunds,
  lockPayment,
  markRefunded,
  refundTotals,
  settlePayment,
} from '../db/repositories/payments.ts';
import { sellUnits } from '../db/repositories/stock.ts';
import { inTransaction, retryTransaction } from '../db/tx.ts';
import { AppError } from '../domain/errors.ts';
import { orderSnapshot } from '../domain/events.ts';
import type { Order } from '../domain/order.ts';
import type { Payment, Refund, RefundStatus } from '../domain/payment.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { Cancellation } from './cancellation.ts';
import type { CallbackBody } from './payment-callback.ts';
import type { Orders } from './orders.ts';

export type { Payment, Refund };

export type CallbackOutcome = 'paid' | 'cancelled' | 'refund-required' | 'failed' | 'replay';

export interface RefundQuery {
  status: RefundStatus;
  limit: number;
  /** Keyset pagination: only payments with a larger id (the last `paymentId` of the previous page). */
  after?: string;
}

export interface RefundPage {
  refunds: Refund[];
  /** Over every payment with this status, not just this page. */
  count: number;
  totalCents: number;
}

export interface Payments {
  pay(userId: string, orderId: string): Promise<Payment>;
  callback(body: CallbackBody): Promise<CallbackOutcome>;
  get(paymentId: string): Promise<Payment | undefined>;
  /** Refunds owed (or given), oldest payment first. */
  listRefunds(query: RefundQuery): Promise<RefundPage>;
  /** REFUND_REQUIRED → REFUNDED by compare-and-set; again on a REFUNDED one returns it unchanged. */
  markRefunded(paymentId: string): Promise<Refund>;
  /** How many refunds are owed and their sum, for the gauges. */
  refundsOwed(): Promise<{ count: number; cents: number }>;
}

export interface PaymentsDeps {
  db: Db;
  ids: IdGenerator;
  orders: Orders;
  cancellation: Cancellation;
  log: Logger;
  metrics?: Pick<Metrics, 'paymentsInitiated' | 'paymentCallbacks'>;
}

export function createPayments(deps: PaymentsDeps): Payments {
  const { db, ids, orders, cancellation } = deps;
  const log = deps.log.child({ component: 'payments' });

  /** The callback's MySQL transaction: what the order became, and the order to announce. */
  async function settle(body: CallbackBody): Promise<{ outcome: CallbackOutcome; order?: Order }> {
    return inTransaction(db, async (trx) => {
      // Lock order: payment → order → stock → quota, the same as every other writer's suffix.
      const payment = await lockPayment(trx, body.paymentId);
      if (!payment || payment.orderId !== body.orderId) throw new AppError('NOT_FOUND', 'payment not found');
      if (payment.amountCents !== body.amountCents) {
        throw new AppError('INVALID_REQUEST', `amountCents does not match the payment (${payment.amountCents})`);
      }
      // Settled already: a replayed (or contradicting) callback changes nothing.
      if (payment.status !== 'PROCESSING') return { outcome: 'replay' };

      const row = await lockOrder(trx, body.orderId);
      if (!row) throw new Error(`order ${body.orderId} of payment ${body.paymentId} has no row`);

      if (body.status === 'FAILED') {
        await settlePayment(trx, body.paymentId, 'FAILED');
        const [cancelled] = await cancellation.cancelLocked(trx, [row], 'PAYMENT_FAILED');
        return cancelled ? { outcome: 'cancelled', order: cancelled } : { outcome: 'failed' };
      }

      if (await markPaid(trx, body.orderId)) {
        if (!(await sellUnits(trx, String(row.activity_id), row.stock_slot, row.quantity))) {
          throw new Error(`activity ${row.activity_id} has fewer locked units than order ${row.id}`);
        }
        await settlePayment(trx, body.paymentId, 'SUCCEEDED');
        const order = toOrder({ ...row, status: 'PAID', reason: null });
        await appendOutbox(trx, [{ type: 'ORDER_PAID', orderId: order.orderId, payload: { ...orderSnapshot(order), paymentId: body.paymentId } }]);
        return { outcome: 'paid', order };
      }
      // Lost the race (the order was cancelled or expired first): refund, never resurrect.
      await settlePayment(trx, body.paymentId, 'REFUND_REQUIRED');
      const order = toOrder(row);
      await appendOutbox(trx, [
        { type: 'REFUND_REQUIRED', orderId: order.orderId, payload: { ...orderSnapshot(order), paymentId: body.paymentId, refundCents: body.amountCents } },
      ]);
      return { outcome: 'refund-required' };
    });
  }

  return {
    async pay(userId, orderId) {
      const order = await orders.get(userId, orderId); // 404 for someone else's order
      if (order.status !== 'PENDING_PAYMENT') throw new AppError('ORDER_NOT_PAYABLE', `order is ${order.status}`);
      const existing = await findPaymentOfOrder(db, orderId);
      if (existing) return existing;
      // Unique order_id: two concurrent pays insert one row; both answer with it.
      if (await insertPayment(db, { paymentId: ids.next(), orderId, amountCents: order.amountCents })) deps.metrics?.paymentsInitiated.inc();
      const payment = await findPaymentOfOrder(db, orderId);
      if (!payment) throw new Error(`payment of order ${orderId} vanished`);
      return payment;
    },

    get: (paymentId) => findPayment(db, paymentId),

    async listRefunds(query) {
      const [refunds, sum] = await Promise.all([listRefunds(db, query), refundTotals(db, query.status)]);
      return { refunds, count: sum.count, totalCents: sum.cents };
    },

    async markRefunded(paymentId) {
      // One compare-and-set: of two operators marking the same refund, one moves it and the other
      // finds it REFUNDED already and gets the same answer; nothing else ever becomes REFUNDED.
      const moved = await markRefunded(db, paymentId);
      const refund = await findRefund(db, paymentId);
      if (!refund) throw new AppError('NOT_FOUND', `payment ${paymentId} not found`);
      if (refund.status !== 'REFUNDED') throw new AppError('NOT_REFUNDABLE', `payment ${paymentId} is ${refund.status}, not owed a refund`);
      if (moved) log.info({ paymentId, orderId: refund.orderId, amountCents: refund.amountCents }, 'refund marked as given');
      return { ...refund, status: refund.status };
    },

    refundsOwed: () => refundTotals(db, 'REFUND_REQUIRED'),

    async callback(body) {
      const result = await retryTransaction(() => settle(body));
      if (result.outcome === 'cancelled' && result.order) await cancellation.returnUnits([result.order]);
      else if (result.outcome === 'paid' && result.order) {
        await orders.announce(result.order).catch((error: unknown) => log.warn({ err: error }, 'order announce failed'));
      } else if (result.outcome === 'refund-required') log.warn({ paymentId: body.paymentId, orderId: body.orderId }, 'payment arrived after cancellation; refund required');
      deps.metrics?.paymentCallbacks.inc({ status: body.status, result: result.outcome });
      return result.outcome;
    },
  };
}
