/**
 * Response schemas (TypeBox), one per shape of the contract (docs/api.md). They do three jobs from one definition:
 * the OpenAPI document (`/docs/json`), the handlers' return types, and Fastify's serialiser.
 *
 * The serialiser drops any field a schema does not declare, and a required field that is missing
 * is a 500: so every field a handler returns today is declared here, ids stay strings, and the
 * fields the contract calls optional (`reason`, `expiresAt`, `offerExpiresAt`, `position`) stay optional.
 */
import { type Static, type TSchema, Type } from '@fastify/type-provider-typebox';
import { ORDER_STATUSES } from '../domain/order.ts';
import { PAYMENT_STATUSES } from '../domain/payment.ts';
import { ERROR_STATUS, type ErrorCode } from '../domain/errors.ts';

/** A string that is one of `values`, typed as such (Type.Enum leaves out `type: "string"`). */
const StringEnum = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

const Id = Type.String({ pattern: '^[0-9]{1,20}$', description: 'decimal id, always a string (64-bit)' });
const Time = Type.String({ format: 'date-time', description: 'ISO-8601 UTC' });
const Cents = Type.Integer({ minimum: 0, description: 'integer cents' });
const Count = Type.Integer({ minimum: 0 });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: StringEnum(Object.keys(ERROR_STATUS) as ErrorCode[], { description: 'stable code (the contract); the message is for people' }),
      message: Type.String(),
    }),
  },
  { description: 'An error: the code is the contract, the message is for people.' },
);

/** What each code tells a client, for the document's description of each error response. */
const CODE_MEANINGS: Record<ErrorCode, string> = {
  INVALID_REQUEST: 'wrong types, missing required fields, a bad id or malformed JSON',
  UNAUTHORIZED: 'the token is missing, malformed, expired or wrongly signed',
  BAD_SIGNATURE: 'X-Seckill-Signature is missing or wrong; nothing changed',
  NOT_STARTED: 'the sale has not started yet',
  ENDED: 'the sale has ended',
  PAUSED: 'an operator paused the sale: retry once it is resumed',
  PASS_REQUIRED: 'this sale has a waiting room: join it and buy with the pass of the admitted ticket',
  PASS_INVALID: "the pass is forged, malformed, or another user's or sale's",
  PASS_EXPIRED: 'the pass has expired: join the waiting room again',
  CHALLENGE_REQUIRED: 'this sale needs a solved challenge in the body',
  CHALLENGE_FAILED: "the challenge is wrong, expired, already used or someone else's",
  NOT_FOUND: 'no such resource (or it is not yours: existence is not leaked)',
  SOLD_OUT: 'nothing left to sell',
  LIMIT_EXCEEDED: 'this user already holds limitPerUser units',
  ORDER_NOT_PAYABLE: 'the order is not PENDING_PAYMENT',
  ORDER_NOT_CANCELLABLE: 'the order is PAID or FAILED, or still QUEUED (retry once it is PENDING_PAYMENT)',
  NOT_SOLD_OUT: 'the waitlist is open only while the sale is SOLD_OUT',
  NO_WAITING_ROOM: 'this sale has no waiting room to join',
  NOT_REFUNDABLE: 'the payment is not owed a refund',
  RATE_LIMITED: 'too many attempts: wait Retry-After seconds',
  INTERNAL: 'an unexpected error (no detail is given away)',
  BUSY: 'load is being shed or a dependency is away: retry the same request after Retry-After seconds',
  NOT_READY: 'a dependency or a background task is not working',
};

/**
 * The error body of one status, its `code` narrowed to the codes given there. Serialising it is
 * the same as serialising ErrorBody (the serialiser does not apply `enum`); the document turns it
 * into `#/components/schemas/Error` narrowed per response (openapi.ts).
 */
const errorBodyOf = (codes: readonly ErrorCode[]) =>
  Type.Object(
    { error: Type.Object({ code: StringEnum(codes), message: Type.String() }) },
    { description: codes.map((code) => `${code}: ${CODE_MEANINGS[code]}.`).join(' ') },
  ) as typeof ErrorBody;

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503;

/**
 * The error answers a route can give, by code (their statuses follow from the code); every route
 * may also answer 500 INTERNAL and 503 BUSY (a dependency is away or load is being shed).
 */
export function errors(...codes: ErrorCode[]): Record<ErrorStatus, typeof ErrorBody> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set<ErrorCode>([...codes, 'INTERNAL', 'BUSY'])) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus].map(([status, list]) => [status, errorBodyOf(list)])) as Record<ErrorStatus, typeof ErrorBody>;
}

export const Commodity = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  priceCents: Cents,
  category: Type.Union([Type.String(), Type.Null()]),
});

const AntiBot = StringEnum(['none', 'challenge'] as const);

const WaitingRoomMode = StringEnum(['off', 'fifo', 'random'] as const, {
  description: 'off: no waiting room; fifo: in arrival order; random: the pre-queue is shuffled at startAt, later arrivals behind in order',
});

/** An activity's waiting-room settings as the admin endpoints show them. */
export const WaitingRoomSettings = Type.Object({
  mode: WaitingRoomMode,
  prequeueSeconds: Count,
  prequeueOpensAt: Time,
  admitPerSecond: Type.Integer({ minimum: 0, description: '0 = automatic' }),
  passSeconds: Type.Integer({ minimum: 1 }),
  keepSeconds: Type.Integer({ minimum: 1 }),
  paused: Type.Boolean(),
});

/** An activity as the admin endpoints show it. */
export const AdminActivity = Type.Object({
  id: Id,
  name: Type.String(),
  commodityId: Id,
  priceCents: Cents,
  stock: Type.Integer({ minimum: 1 }),
  startAt: Time,
  endAt: Time,
  limitPerUser: Type.Integer({ minimum: 1 }),
  paymentTimeoutSeconds: Type.Integer({ minimum: 1 }),
  antiBot: AntiBot,
  challengeDifficulty: Type.Integer({ minimum: 0 }),
  segments: Type.Integer({ minimum: 1, description: 'Redis stock counters the units are spread over' }),
  shards: Type.Integer({ minimum: 1, description: 'Redis shards (hash tags) the stock is split over; buyers reserve on their home shard' }),
  paused: Type.Boolean({ description: 'an operator paused the sale: purchases answer 403 PAUSED until it is resumed' }),
  status: StringEnum(['UPCOMING', 'LIVE', 'PAUSED', 'SOLD_OUT', 'ENDED'] as const, {
    description: 'the public status, or PAUSED while paused and not ended',
  }),
  waitingRoom: WaitingRoomSettings,
});

/** GET /api/v1/activities/{id}: what a buyer's page needs. */
export const PublicActivity = Type.Object({
  id: Id,
  name: Type.String(),
  priceCents: Cents,
  startAt: Time,
  endAt: Time,
  limitPerUser: Type.Integer({ minimum: 1 }),
  status: StringEnum(['UPCOMING', 'LIVE', 'SOLD_OUT', 'ENDED'] as const),
  remaining: Type.Integer({ minimum: 0, description: 'may lag by a moment (served from cache)' }),
  stock: Type.Integer({ minimum: 1 }),
  antiBot: AntiBot,
  paused: Type.Boolean({ description: 'the operator paused the sale: purchases answer 403 PAUSED until it resumes' }),
  waitingRoom: Type.Optional(
    Type.Object(
      { mode: WaitingRoomMode, prequeueOpensAt: Time },
      { description: 'present when the sale has a waiting room: buyers join it (POST …/queue) and buy with the pass it gives' },
    ),
  ),
  commodity: Commodity,
});

/** One admin action (GET /api/v1/admin/audit). */
export const AuditEntry = Type.Object({
  id: Id,
  at: Time,
  actor: Type.String({ description: 'the X-Seckill-Actor name (or "admin") @ token:<first 8 hex of the token\'s SHA-256>' }),
  action: Type.String({ description: 'e.g. activity.create, activity.update, activity.pause, activity.resume, activity.end, refund.mark' }),
  target: Type.Union([Type.String(), Type.Null()], { description: 'the id acted on, when there is one' }),
  status: Type.Integer({ description: 'the HTTP status the action was answered with' }),
  detail: Type.Union([Type.String(), Type.Null()], { description: 'the request body as JSON (at most 2,000 characters)' }),
});

export const Order = Type.Object({
  orderId: Id,
  activityId: Id,
  userId: Type.String(),
  quantity: Type.Integer({ minimum: 1 }),
  amountCents: Cents,
  status: StringEnum(ORDER_STATUSES),
  reason: Type.Optional(
    Type.String({ description: 'CANCELLED: USER_CANCELLED | PAYMENT_FAILED | PAYMENT_TIMEOUT; FAILED: why (OUT_OF_STOCK, LIMIT_EXCEEDED, ...)' }),
  ),
  createdAt: Time,
  expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'PENDING_PAYMENT only: when it is cancelled unless paid' })),
});

export const Payment = Type.Object({
  paymentId: Id,
  orderId: Id,
  amountCents: Cents,
  status: StringEnum(PAYMENT_STATUSES),
});

export const Waitlist = Type.Object({
  position: Type.Optional(Type.Integer({ minimum: 1, description: 'WAITING only: 1 = next in line' })),
  status: StringEnum(['WAITING', 'OFFERED', 'EXPIRED'] as const),
  offerExpiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'OFFERED only: buy before this' })),
});

export const Ticket = Type.Object({
  activityId: Id,
  status: StringEnum(['PREQUEUE', 'WAITING', 'ADMITTED', 'CLOSED'] as const, {
    description: 'PREQUEUE: before startAt; WAITING: in line; ADMITTED: buy with `pass` before `passExpiresAt`; CLOSED: see `reason`',
  }),
  mode: StringEnum(['fifo', 'random'] as const),
  joinedAt: Time,
  position: Type.Optional(Type.Integer({ minimum: 1, description: 'WAITING (and PREQUEUE in fifo mode): 1 = next to be admitted' })),
  peopleAhead: Type.Optional(Count),
  etaSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'WAITING: about how long until admitted, at the current rate' })),
  chance: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'how likely a unit is still left for you: units on sale or that may come back, against the people ahead and the share who buy' })),
  waiting: Type.Optional(Type.Integer({ minimum: 0, description: 'people waiting in all' })),
  admittedTotal: Type.Integer({ minimum: 0, description: 'people admitted so far; with progress pushes, lets a page move its place without asking' }),
  startAt: Time,
  pass: Type.Optional(Type.String({ description: 'ADMITTED: send as the X-Seckill-Pass header of purchase and challenge' })),
  passExpiresAt: Type.Optional(Time),
  reason: Type.Optional(
    StringEnum(['SOLD_OUT', 'ENDED', 'ABANDONED', 'PASS_EXPIRED', 'LEFT', 'BOUGHT'] as const, {
      description: 'CLOSED: SOLD_OUT (nothing can come back: join the waitlist), ENDED, ABANDONED (no poll for keepSeconds), PASS_EXPIRED, LEFT, BOUGHT (the pass was used); the last four may join again, at the back',
    }),
  ),
  pollAfterMs: Type.Integer({ minimum: 0, description: 'ask again after about this long (jittered; polling is also what keeps your place)' }),
});

export const WaitingRoomStats = Type.Object({
  activityId: Id,
  settings: WaitingRoomSettings,
  closed: Type.Optional(StringEnum(['SOLD_OUT', 'ENDED'] as const)),
  waiting: Count,
  outstandingPasses: Type.Integer({ minimum: 0, description: 'admitted people whose pass is still valid' }),
  joined: Count,
  admitted: Count,
  bought: Type.Integer({ minimum: 0, description: 'purchases reserved by admitted people' }),
  abandoned: Count,
  passesExpired: Count,
  closedEarly: Type.Integer({ minimum: 0, description: 'tickets still waiting when the sale sold out or ended' }),
  admittedPerMinute: Type.Number({ minimum: 0, description: 'measured over the last seconds by the admission leader' }),
  buyShare: Type.Number({ minimum: 0, maximum: 1, description: 'share of admitted people who buy (smoothed)' }),
  unitsLeft: Type.Integer({ minimum: 0, description: 'units on sale or that may still come back' }),
});

export const Challenge = Type.Object({
  challengeId: Type.String(),
  algorithm: StringEnum(['sha256'] as const),
  prefix: Type.String(),
  difficulty: Type.Integer({ minimum: 0, maximum: 32 }),
  expiresAt: Time,
});

export const ActivityStats = Type.Object({
  activityId: Id,
  stock: Count,
  redis: Type.Object({ remaining: Type.Integer({ description: 'units Redis can still sell' }) }),
  db: Type.Object({ available: Count, locked: Count, sold: Count }, { description: 'available + locked + sold = stock, always' }),
  orders: Type.Object(Object.fromEntries(ORDER_STATUSES.map((status) => [status, Count])) as Record<(typeof ORDER_STATUSES)[number], typeof Count>),
});

/** A payment that arrived after its order was cancelled: money an operator must give back. */
export const Refund = Type.Object({
  paymentId: Id,
  orderId: Id,
  activityId: Id,
  userId: Type.String(),
  amountCents: Cents,
  status: StringEnum(['REFUND_REQUIRED', 'REFUNDED'] as const),
  createdAt: Time,
  updatedAt: Time,
});

export const Remaining = Type.Object({ remaining: Type.Integer() });

export const Ok = Type.Object({ ok: Type.Literal(true) });

const DependencyChecks = Type.Object({
  redis: StringEnum(['up', 'down'] as const),
  mysql: StringEnum(['up', 'down'] as const),
  kafka: StringEnum(['up', 'down'] as const),
});
export const Ready = Type.Object({ ok: Type.Literal(true), checks: DependencyChecks });
export const NotReady = Type.Object(
  { error: errorBodyOf(['NOT_READY']).properties.error, checks: DependencyChecks },
  { description: 'Not ready: `checks` says which dependency is down (a background task not working is named in the message).' },
);

/** `text/plain` bodies (Prometheus): strings are sent as they are, never re-serialised. */
export const PlainText = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });

// ---- The WebSocket's messages (GET /api/v1/ws): not HTTP responses, so they are components. ----

export const WsHelloMessage = Type.Object(
  { type: Type.Literal('hello'), userId: Type.String() },
  { description: 'Sent once when the socket opens: who the server thinks you are.' },
);
export const WsOrderMessage = Type.Object(
  { type: Type.Literal('order'), order: Order },
  { description: 'One of your orders changed status (any instance; delivered through Redis pub/sub).' },
);
export const WsWaitlistMessage = Type.Object(
  { type: Type.Literal('waitlist'), waitlist: Type.Object({ ...Waitlist.properties, activityId: Id }) },
  { description: 'Your waitlist entry changed: a unit is OFFERED to you (buy with the normal purchase), or the offer EXPIRED.' },
);

export const WsQueueMessage = Type.Object(
  { type: Type.Literal('queue'), ticket: Ticket },
  { description: 'Your waiting-room ticket changed: you are ADMITTED (buy with its pass), or it CLOSED.' },
);
export const WsQueueProgressMessage = Type.Object(
  {
    type: Type.Literal('queue-progress'),
    activityId: Id,
    admittedTotal: Count,
    waiting: Count,
    closed: Type.Optional(StringEnum(['SOLD_OUT', 'ENDED'] as const)),
  },
  {
    description:
      'About once a second to every socket while a waiting room moves: your place is your last peopleAhead minus (admittedTotal − the admittedTotal of that ticket); closed = every ticket is closed.',
  },
);

/** Schemas the document lists under components.schemas (names are what integrators see). */
export const COMPONENT_SCHEMAS: Record<string, TSchema> = {
  Error: ErrorBody,
  Commodity,
  Activity: AdminActivity,
  PublicActivity,
  ActivityStats,
  Challenge,
  Order,
  Payment,
  Waitlist,
  Refund,
  Ok,
  DependencyChecks,
  Ready,
  NotReady,
  WsHelloMessage,
  WsOrderMessage,
  WsWaitlistMessage,
  Ticket,
  WaitingRoomSettings,
  WaitingRoomStats,
  WsQueueMessage,
  WsQueueProgressMessage,
  WsMessage: Type.Union([WsHelloMessage, WsOrderMessage, WsWaitlistMessage, WsQueueMessage, WsQueueProgressMessage], { description: 'Any message the server sends on /api/v1/ws' }),
};

export type RefundJson = Static<typeof Refund>;

// ---- The dashboard's live feed (GET /api/v1/admin/activities/{id}/live, Server-Sent Events). ----

export const LiveTick = Type.Object(
  {
    at: Type.Integer({ description: 'epoch ms' }),
    stats: ActivityStats,
    metrics: Type.String({
      description:
        'the series the console reads (seckill_purchase_total, seckill_purchase_shed_total, seckill_http_refusals_total, seckill_http_request_duration_seconds, seckill_orders_persisted_total, seckill_orders_dead_lettered_total), summed over every API and worker process of every instance, Prometheus text format; each process counts from its own start',
    }),
    processes: Type.Integer({ minimum: 1, description: 'how many processes the series sum (those that shared their counts in the last 3 s, this one included)' }),
  },
  { description: 'The data of one `tick` event of the live feed.' },
);
COMPONENT_SCHEMAS.LiveTick = LiveTick;

/** Schema documentation of the live feed (the handler writes the stream itself, so nothing is serialised). */
export const liveStreamDoc = {
  tags: ['admin'],
  security: [{ adminBearer: [] }],
  operationId: 'streamActivityLive',
  summary: "Stream an activity's stats and metrics once a second (Server-Sent Events)",
  description:
    'Server-Sent Events (read with fetch(), so the admin token stays in a header). Once a second: `event: tick` with `data:` a LiveTick JSON (`#/components/schemas/LiveTick`); `event: problem` with `data: {"message": "…"}` when the stats could not be read. The stream stays open until the client goes away or the server shuts down.',
  response: {
    200: {
      description: 'The event stream: `tick` once a second, `problem` when the stats could not be read.',
      content: { 'text/event-stream': { schema: { type: 'string', description: 'event: tick\ndata: {"at": …, "stats": {…}, "metrics": "…"}' } } },
    },
    ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
  },
};
