/**
 * The side effects of the order lifecycle (notification, loyalty points, warehouse dispatch) travel as
 * outbox events: written in the same MySQL transaction as the change they announce, relayed to
 * `<prefix>.events`, applied once by each consumer. Each type carries its own payload.
 */
import type { Order, ReservationMessage } from './order.ts';

export const OUTBOX_EVENT_TYPES = ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CANCELLED', 'REFUND_REQUIRED'] as const;
export type OutboxEventType = (typeof OUTBOX_EVENT_TYPES)[number];

/** What an event says about its order: the order as the API shows it, without its times. */
export type OrderSnapshot = Pick<Order, 'orderId' | 'activityId' | 'userId' | 'quantity' | 'amountCents' | 'status' | 'reason'>;

/** An event to write, its payload typed by its type. */
export type NewOutboxEvent =
  /** The worker persisted a reservation as PENDING_PAYMENT: the reservation, and when it expires unpaid. */
  | { type: 'ORDER_CREATED'; orderId: string; payload: ReservationMessage & { expiresAt: string } }
  | { type: 'ORDER_PAID'; orderId: string; payload: OrderSnapshot & { paymentId: string } }
  | { type: 'ORDER_CANCELLED'; orderId: string; payload: OrderSnapshot }
  /** A payment arrived after its order was cancelled: the money goes back. */
  | { type: 'REFUND_REQUIRED'; orderId: string; payload: OrderSnapshot & { paymentId: string; refundCents: number } };

/** An event as relayed to Kafka: what the consumers receive. */
export interface OutboxEvent {
  /** The outbox row id: the consumers' idempotency key. */
  eventId: string;
  type: OutboxEventType;
  orderId: string;
  payload: Record<string, unknown>;
  createdAt: string;
}

/** The snapshot of `order` an event carries (`reason` only when it has one). */
export function orderSnapshot(order: Order): OrderSnapshot {
  return {
    orderId: order.orderId,
    activityId: order.activityId,
    userId: order.userId,
    quantity: order.quantity,
    amountCents: order.amountCents,
    status: order.status,
    ...(order.reason ? { reason: order.reason } : {}),
  };
}
