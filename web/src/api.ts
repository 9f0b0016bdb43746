/** Talking to the API from the browser: JSON calls, the contract's error codes in plain words. */

/** A human sentence for every error code of the contract, docs/api.md (and a few the client itself produces). */
export const ERROR_MESSAGES: Record<string, string> = {
  INVALID_REQUEST: 'Something in the request was not valid. Please check what you entered.',
  UNAUTHORIZED: 'Please sign in (your session may have expired).',
  BAD_SIGNATURE: 'The payment confirmation could not be verified.',
  NOT_STARTED: 'The sale has not started yet. The button unlocks when the countdown ends.',
  ENDED: 'This sale has ended.',
  PAUSED: 'The sale is paused for a moment. Please try again shortly.',
  CHALLENGE_REQUIRED: 'This sale needs a quick anti-bot check first. Please try again.',
  CHALLENGE_FAILED: 'The anti-bot check expired or failed. Please try again.',
  NOT_FOUND: 'We could not find that. It may have been removed.',
  SOLD_OUT: 'Sold out. You can join the waitlist in case units come back.',
  LIMIT_EXCEEDED: 'You already hold as many units as this sale allows per person.',
  ORDER_NOT_PAYABLE: 'This order can no longer be paid (it may have expired or been cancelled).',
  ORDER_NOT_CANCELLABLE: 'This order is already paid and cannot be cancelled here.',
  NOT_SOLD_OUT: 'Units are still on sale, so there is no waitlist: just buy!',
  RATE_LIMITED: 'Too many attempts in a short time. Retrying shortly…',
  BUSY: 'The shop is very busy right now. Retrying shortly…',
  NOT_READY: 'The service is starting up or partly unavailable. Please try again in a moment.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
  NETWORK: 'Could not reach the shop. Check your connection; retrying…',
  PASS_REQUIRED: 'This sale has a waiting room: join the line, and you can buy when it is your turn.',
  PASS_INVALID: 'Your pass from the waiting room is not valid here. Please join the line.',
  PASS_EXPIRED: 'Your turn to buy has passed. You can join the line again.',
  NO_WAITING_ROOM: 'This sale has no waiting room: just buy!',
};

export function humanMessage(code: string, fallback?: string): string {
  return ERROR_MESSAGES[code] ?? fallback ?? `Unexpected error (${code}).`;
}

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds from a `Retry-After` header, when the server sent one. */
  readonly retryAfter: number | undefined;

  constructor(code: string, status: number, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  get human(): string {
    return humanMessage(this.code, this.message);
  }
}

export interface CallOptions {
  body?: unknown;
  token?: string | undefined;
  signal?: AbortSignal;
  /** Extra request headers (the console's X-Seckill-Actor). */
  headers?: Record<string, string>;
}

/** Calls the API; resolves with the JSON body on 2xx, throws ApiError otherwise. */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...options.headers, accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    const init: RequestInit = { method, headers, cache: 'no-store' };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.signal) init.signal = options.signal;
    response = await fetch(path, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError('NETWORK', 0, error instanceof Error ? error.message : String(error));
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok) return body as T;
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const retryAfterHeader = response.headers.get('retry-after');
  const retryAfter = retryAfterHeader === null ? undefined : Number(retryAfterHeader);
  return Promise.reject(
    new ApiError(
      error?.code ?? (response.status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST'),
      response.status,
      error?.message ?? `HTTP ${response.status}`,
      retryAfter !== undefined && Number.isFinite(retryAfter) ? retryAfter : undefined,
    ),
  );
}

export interface Commodity {
  id: string;
  name: string;
  description: string | null;
  priceCents: number;
  category: string | null;
}

export type ActivityStatus = 'UPCOMING' | 'LIVE' | 'SOLD_OUT' | 'ENDED';

export interface PublicActivity {
  id: string;
  name: string;
  priceCents: number;
  startAt: string;
  endAt: string;
  limitPerUser: number;
  status: ActivityStatus;
  /** The operator paused the sale: purchases answer PAUSED until it resumes. */
  paused?: boolean;
  remaining: number;
  stock?: number;
  antiBot?: 'none' | 'challenge';
  /** Present when the sale has a waiting room: join it from prequeueOpensAt, buy with its pass. */
  waitingRoom?: { mode: 'fifo' | 'random'; prequeueOpensAt: string };
  commodity: Commodity;
}

/** A place in a sale's waiting room. */
export interface Ticket {
  activityId: string;
  status: 'PREQUEUE' | 'WAITING' | 'ADMITTED' | 'CLOSED';
  mode: 'fifo' | 'random';
  joinedAt: string;
  position?: number;
  peopleAhead?: number;
  etaSeconds?: number;
  chance?: number;
  waiting?: number;
  admittedTotal: number;
  startAt: string;
  pass?: string;
  passExpiresAt?: string;
  reason?: 'SOLD_OUT' | 'ENDED' | 'ABANDONED' | 'PASS_EXPIRED' | 'LEFT' | 'BOUGHT';
  pollAfterMs: number;
}

export type OrderStatus = 'QUEUED' | 'PENDING_PAYMENT' | 'PAID' | 'CANCELLED' | 'FAILED';

export interface Order {
  orderId: string;
  activityId: string;
  userId: string;
  quantity: number;
  amountCents: number;
  status: OrderStatus;
  reason?: string | null;
  createdAt: string;
  expiresAt?: string | null;
}

export interface Waitlist {
  position?: number;
  status: 'WAITING' | 'OFFERED' | 'EXPIRED';
  offerExpiresAt?: string | null;
}

export interface Challenge {
  challengeId: string;
  algorithm: string;
  prefix: string;
  difficulty: number;
  expiresAt: string;
}

export function formatPrice(cents: number): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: 'CNY' }).format(cents / 100);
}

/** "1d 02:03:04" / "02:03:04" / "03:04" for a duration in ms (never negative). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = h > 0 || d > 0 ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  return d > 0 ? `${d}d ${hms}` : hms;
}

export function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
