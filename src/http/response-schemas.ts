/**
 * Response schemas (TypeBox), one per shape of API.md. They do three jobs from one definition:
 * the OpenAPI document (`/docs/json`), the handlers' return types, and Fastify's serialiser.
 *
 * The serialiser drops any field a schema does not declare, and a required field that is missing
 * is a 500: so every field a handler returns today is declared here, ids stay strings, and the
 * fields API.md calls optional (`reason`, `expiresAt`, `offerExpiresAt`, `position`) stay optional.
 */
import { type Static, type TSchema, Type } from '@fastify/type-provider-typebox';
import { ORDER_STATUSES, PAYMENT_STATUSES } from '../db/schema.ts';
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
      code: StringEnum(Object.keys(ERROR_STATUS) as ErrorCode[], { description: 'stable code (API.md); the message is for people' }),
      message: Type.String(),
    }),
  },
  { description: 'An error: the code is the contract, the message is for people.' },
);

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429;

/**
 * The error answers a route can give, as response schemas; every route may also answer 500
 * (INTERNAL, no detail) and 503 (BUSY: a dependency is away or load is being shed).
 */
export function errors(...statuses: ErrorStatus[]): Record<ErrorStatus | '5xx', typeof ErrorBody> {
  const responses = { '5xx': ErrorBody } as Record<ErrorStatus | '5xx', typeof ErrorBody>;
  for (const status of statuses) responses[status] = ErrorBody;
  return responses;
}

export const Commodity = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  priceCents: Cents,
  category: Type.Union([Type.String(), Type.Null()]),
});

const AntiBot = StringEnum(['none', 'challenge'] as const);

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
  commodity: Commodity,
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
export const NotReady = Type.Object({ error: ErrorBody.properties.error, checks: DependencyChecks });

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

/** Schemas the document lists under components.schemas (names are what integrators see). */
export const COMPONENT_SCHEMAS: Record<string, TSchema> = {
  Error: ErrorBody,
  Order,
  Payment,
  Waitlist,
  Refund,
  WsHelloMessage,
  WsOrderMessage,
  WsWaitlistMessage,
  WsMessage: Type.Union([WsHelloMessage, WsOrderMessage, WsWaitlistMessage], { description: 'Any message the server sends on /api/v1/ws' }),
};

export type RefundJson = Static<typeof Refund>;

// ---- The dashboard's live feed (GET /api/v1/admin/activities/{id}/live, Server-Sent Events). ----

export const LiveTick = Type.Object(
  {
    at: Type.Integer({ description: 'epoch ms' }),
    stats: ActivityStats,
    metrics: Type.String({ description: "this instance's seckill_* series, Prometheus text format" }),
  },
  { description: 'The data of one `tick` event of the live feed.' },
);
COMPONENT_SCHEMAS.LiveTick = LiveTick;

/** Schema documentation of the live feed (the handler writes the stream itself, so nothing is serialised). */
export const liveStreamDoc = {
  tags: ['admin'],
  security: [{ adminBearer: [] }],
  description:
    'Server-Sent Events (read with fetch(), so the admin token stays in a header). Once a second: `event: tick` with `data:` a LiveTick JSON (`#/components/schemas/LiveTick`); `event: problem` with `data: {"message": "…"}` when the stats could not be read. The stream stays open until the client goes away or the server shuts down.',
  response: {
    200: {
      description: 'text/event-stream',
      content: { 'text/event-stream': { schema: { type: 'string', description: 'event: tick\ndata: {"at": …, "stats": {…}, "metrics": "…"}' } } },
    },
    ...errors(400, 401, 404),
  },
};
