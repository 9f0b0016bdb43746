/** What the sale and the buyer's order look like right now, on the server's clock, and in words. */
import type { ActivityStatus, Order } from '../api.ts';
import { clock, state } from './page.ts';

/** The sale as the page shows it: the public status, or PAUSED while the operator holds a started sale. */
export type PageStatus = ActivityStatus | 'PAUSED';

export function currentStatus(): PageStatus | undefined {
  const a = state.activity;
  if (!a) return undefined;
  const now = clock.now();
  if (now >= Date.parse(a.endAt)) return 'ENDED';
  if (now < Date.parse(a.startAt)) return 'UPCOMING';
  if (a.paused) return 'PAUSED';
  if (state.soldOut || a.remaining <= 0 || a.status === 'SOLD_OUT') return 'SOLD_OUT';
  return 'LIVE';
}

export const ACTIVE: ReadonlyArray<Order['status']> = ['QUEUED', 'PENDING_PAYMENT', 'PAID'];
export const STATUS_TEXT: Record<string, string> = {
  UPCOMING: 'Coming soon',
  LIVE: 'On sale',
  PAUSED: 'Paused — back shortly',
  SOLD_OUT: 'Sold out',
  ENDED: 'Ended',
  QUEUED: 'Reserved — confirming…',
  PENDING_PAYMENT: 'Awaiting payment',
  PAID: 'Paid',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
};
export const REASON_TEXT: Record<string, string> = {
  USER_CANCELLED: 'You cancelled this order; the unit went back on sale.',
  PAYMENT_FAILED: 'The payment failed, so the order was cancelled.',
  PAYMENT_TIMEOUT: 'The payment deadline passed, so the order was cancelled.',
};

export function offerOpen(): boolean {
  const w = state.waitlist;
  return w?.status === 'OFFERED' && (!w.offerExpiresAt || Date.parse(w.offerExpiresAt) > clock.now());
}

/** An absolute time in the buyer's own time zone, named, e.g. "Sat, Nov 22, 09:15:00 GMT+8". */
export function formatWhen(iso: string): string {
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}
