/**
 * The downstream side effects of the order lifecycle (SMS/notification, loyalty points, warehouse
 * dispatch). Each handler records what it did in its own table keyed by the outbox event id, so a
 * redelivered event (the relay and Kafka are at-least-once) hits the primary key and does nothing.
 */
import type { Db } from '../../db/client.ts';
import { awardPoints, recordNotification, requestDispatch } from '../../db/repositories/side-effects.ts';
import { inTransaction } from '../../db/tx.ts';
import type { OutboxEvent } from '../../domain/events.ts';
import type { Logger } from '../../platform/log.ts';

export interface NotificationMessage {
  userId: string;
  orderId: string;
  text: string;
}

/** Where notifications go. Swap in a real SMS gateway client; it is called once per new event. */
export interface NotificationSender {
  readonly name: string;
  send(message: NotificationMessage): Promise<void>;
}

/**
 * The default: calls no external gateway. The message is recorded in the `notifications` table
 * (sender = "recorded") by the handler, and logged at debug level.
 */
export function createRecordingSender(log: Logger): NotificationSender {
  return {
    name: 'recorded',
    async send(message) {
      log.debug({ ...message }, 'notification recorded (no SMS gateway configured)');
    },
  };
}

/** One consumer group per handler (`<prefix>.events.<name>`): each side effect keeps its own offsets. */
export const EVENT_HANDLER_NAMES = ['notifications', 'loyalty-points', 'warehouse'] as const;
export type EventHandlerName = (typeof EVENT_HANDLER_NAMES)[number];

export interface EventHandler {
  /** Names the consumer group (`<prefix>.events.<name>`). */
  name: EventHandlerName;
  /** Applies the event once; true when it did something now, false for a duplicate or an ignored type. */
  handle(event: OutboxEvent): Promise<boolean>;
}

interface Payload {
  activityId?: string;
  userId?: string;
  quantity?: number;
  amountCents?: number;
  unitPriceCents?: number;
  reason?: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

function amountOf(p: Payload): number {
  if (typeof p.amountCents === 'number') return p.amountCents;
  return (p.quantity ?? 0) * (p.unitPriceCents ?? 0);
}

function textOf(event: OutboxEvent, p: Payload): string | undefined {
  const money = (amountOf(p) / 100).toFixed(2);
  switch (event.type) {
    case 'ORDER_CREATED':
      return `Order ${event.orderId}: you got it! Pay ${money} before ${str((event.payload as { expiresAt?: string }).expiresAt)}.`;
    case 'ORDER_PAID':
      return `Order ${event.orderId}: payment of ${money} received, we are preparing your parcel.`;
    case 'ORDER_CANCELLED':
      return `Order ${event.orderId} was cancelled (${str(p.reason)}).`;
    case 'REFUND_REQUIRED':
      return `Order ${event.orderId}: your late payment of ${money} will be refunded.`;
    default:
      return undefined;
  }
}

export function createEventHandlers(db: Db, sender: NotificationSender): EventHandler[] {
  return [
    {
      name: 'notifications',
      async handle(event) {
        const p = event.payload as Payload;
        const text = textOf(event, p);
        if (!text) return false;
        return inTransaction(db, async (trx) => {
          const recorded = await recordNotification(trx, {
            eventId: event.eventId,
            orderId: event.orderId,
            userId: str(p.userId),
            eventType: event.type,
            channel: 'sms',
            message: text.slice(0, 500),
            sender: sender.name,
          });
          if (!recorded) return false;
          // Inside the transaction: a failed send rolls the record back and the event is retried.
          await sender.send({ userId: str(p.userId), orderId: event.orderId, text });
          return true;
        });
      },
    },
    {
      name: 'loyalty-points',
      async handle(event) {
        if (event.type !== 'ORDER_PAID') return false;
        const p = event.payload as Payload;
        return awardPoints(db, { eventId: event.eventId, orderId: event.orderId, userId: str(p.userId), points: Math.floor(amountOf(p) / 100) });
      },
    },
    {
      name: 'warehouse',
      async handle(event) {
        if (event.type !== 'ORDER_PAID') return false;
        const p = event.payload as Payload;
        return requestDispatch(db, {
          eventId: event.eventId,
          orderId: event.orderId,
          activityId: str(p.activityId),
          userId: str(p.userId),
          quantity: p.quantity ?? 1,
        });
      },
    },
  ];
}
