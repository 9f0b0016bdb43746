/** Orders as the API shows them, and the messages that carry them through Kafka. */

export const ORDER_STATUSES = ['QUEUED', 'PENDING_PAYMENT', 'PAID', 'CANCELLED', 'FAILED'] as const;
/** QUEUED has no row: it is the answer for a reservation the worker has not persisted yet. */
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** LOST: written by earlier versions, whose reconciliation gave up on a reservation Kafka never got. */
export type FailReason = 'OUT_OF_STOCK' | 'LIMIT_EXCEEDED' | 'ACTIVITY_NOT_FOUND' | 'DEAD_LETTERED' | 'LOST' | 'DUPLICATE_REQUEST';
/** Stored answers and user counts outlive the sale by a day, so late replays still get their answer. */
export const ANSWER_GRACE_SECONDS = 86_400;

export type CancelReason = 'USER_CANCELLED' | 'PAYMENT_FAILED' | 'PAYMENT_TIMEOUT';

export interface Order {
  orderId: string;
  activityId: string;
  userId: string;
  quantity: number;
  amountCents: number;
  status: OrderStatus;
  reason?: string;
  createdAt: string;
  expiresAt?: string;
}

/** The Kafka message of one reservation (`<prefix>.orders`, keyed by activity id). */
export interface ReservationMessage {
  orderId: string;
  activityId: string;
  userId: string;
  requestId: string;
  quantity: number;
  unitPriceCents: number;
  reservedAtMs: number;
  /** Admitted without Redis (degraded mode): no Redis reservation to settle or release. */
  degraded?: boolean;
}

/** The message of a purchase admitted with `orderId`: what the worker needs to write the order. */
export function reservationMessage(
  request: { userId: string; requestId: string; quantity: number },
  activity: { id: string; priceCents: number },
  orderId: string,
  reservedAtMs: number,
  degraded = false,
): ReservationMessage {
  const message: ReservationMessage = {
    orderId,
    // The activity's canonical id (the path may say "007"): it keys Kafka and names Redis keys.
    activityId: activity.id,
    userId: request.userId,
    requestId: request.requestId,
    quantity: request.quantity,
    unitPriceCents: activity.priceCents,
    reservedAtMs,
  };
  if (degraded) message.degraded = true;
  return message;
}

export function parseReservationMessage(text: string): ReservationMessage {
  const value = JSON.parse(text) as Partial<ReservationMessage>;
  if (
    typeof value.orderId !== 'string' ||
    !/^\d{1,20}$/.test(value.orderId) ||
    typeof value.activityId !== 'string' ||
    typeof value.userId !== 'string' ||
    typeof value.requestId !== 'string' ||
    !Number.isInteger(value.quantity) ||
    !Number.isInteger(value.unitPriceCents) ||
    typeof value.reservedAtMs !== 'number'
  ) {
    throw new Error('malformed reservation message');
  }
  return value as ReservationMessage;
}

/** What MySQL made of a reservation: an order awaiting payment, or a FAILED one with its reason. */
export type ReservationOutcome =
  | { status: 'PENDING_PAYMENT'; expiresAt: Date }
  /** `duplicateOf`: a second id given to a request that already has an order (its row keeps clear of the unique request key). */
  | { status: 'FAILED'; reason: FailReason; duplicateOf?: string };

/** The order a reservation became, as the API shows it (announced to its owner's WebSocket). */
export function orderOfReservation(message: ReservationMessage, outcome: ReservationOutcome): Order {
  const order: Order = {
    orderId: message.orderId,
    activityId: message.activityId,
    userId: message.userId,
    quantity: message.quantity,
    amountCents: message.quantity * message.unitPriceCents,
    status: outcome.status,
    createdAt: new Date(message.reservedAtMs).toISOString(),
  };
  if (outcome.status === 'PENDING_PAYMENT') order.expiresAt = outcome.expiresAt.toISOString();
  else order.reason = outcome.reason;
  return order;
}
