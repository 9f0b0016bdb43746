/**
 * Domain errors carry a stable code from the contract (docs/api.md); src/http/errors.ts is the one place that maps
 * them to an HTTP status and the `{"error": {code, message}}` shape.
 */

export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  BAD_SIGNATURE: 401,
  NOT_STARTED: 403,
  ENDED: 403,
  /** The operator paused the sale; it may resume (unlike ENDED). Nothing was reserved. */
  PAUSED: 403,
  CHALLENGE_REQUIRED: 403,
  CHALLENGE_FAILED: 403,
  /** Waiting room: the sale needs a pass (join the queue, wait to be admitted) and none was sent. */
  PASS_REQUIRED: 403,
  /** Waiting room: the pass is forged, malformed, or bound to another user or activity. */
  PASS_INVALID: 403,
  /** Waiting room: the pass was genuine but its time is up (join again). */
  PASS_EXPIRED: 403,
  NOT_FOUND: 404,
  SOLD_OUT: 409,
  LIMIT_EXCEEDED: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CANCELLABLE: 409,
  NOT_SOLD_OUT: 409,
  /** The activity has no waiting room to join. */
  NO_WAITING_ROOM: 409,
  /** Admin: the payment is not owed a refund (only REFUND_REQUIRED payments can be marked REFUNDED). */
  NOT_REFUNDABLE: 409,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  BUSY: 503,
  NOT_READY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Seconds the client should wait before retrying (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfter?: number } = {}) {
    // A refusal (SOLD_OUT, LIMIT_EXCEEDED, ...) is an answer, not a bug: capturing a stack trace
    // for each of a crowd's thousands per second was a measurable share of the sold-out path.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
