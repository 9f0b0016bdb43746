/** Request schemas (TypeBox): Fastify validates with them, and the handlers get their types. */
import { Type } from '@fastify/type-provider-typebox';
import { WAITING_ROOM_LIMITS } from '../domain/waiting-room.ts';

// Canonical decimal ids only: "007" would name the same row in MySQL but other keys in Redis.
export const DecimalId = Type.String({ pattern: '^[1-9][0-9]{0,19}$' });
/** Ids are strings in JSON; an integer is accepted too, as a lenient client might send one. */
export const IdInput = Type.Union([DecimalId, Type.Integer({ minimum: 1 })]);

export const IdParams = Type.Object({ id: DecimalId });
export const OrderParams = Type.Object({ orderId: DecimalId });

export const Cents = Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 });
export const IsoTime = Type.String({ minLength: 10, maxLength: 40 });

export const CreateCommodityBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()])),
  priceCents: Cents,
  category: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
});

/** The waiting room's settings; every field optional (create: defaults; PATCH: unchanged). */
export const WaitingRoomInput = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('fifo'), Type.Literal('random')], { description: 'off: no waiting room (default); fifo: in arrival order; random: the pre-queue is shuffled at startAt, later arrivals behind in order' })),
    prequeueSeconds: Type.Optional(Type.Integer({ ...WAITING_ROOM_LIMITS.prequeueSeconds, description: 'the pre-queue opens this long before startAt (default 900)' })),
    admitPerSecond: Type.Optional(Type.Integer({ ...WAITING_ROOM_LIMITS.admitPerSecond, description: 'people admitted per second; 0 = automatic (default)' })),
    passSeconds: Type.Optional(Type.Integer({ ...WAITING_ROOM_LIMITS.passSeconds, description: 'how long a pass lasts (default 120)' })),
    keepSeconds: Type.Optional(Type.Integer({ ...WAITING_ROOM_LIMITS.keepSeconds, description: 'how long a visitor who stops polling keeps their place (default 60)' })),
    paused: Type.Optional(Type.Boolean({ description: 'admission stopped by an operator (joining and waiting go on)' })),
  },
  { additionalProperties: false },
);

export const CreateActivityBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  commodityId: IdInput,
  priceCents: Cents,
  stock: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
  startAt: IsoTime,
  endAt: IsoTime,
  limitPerUser: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
  paymentTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 300 }),
  antiBot: Type.Union([Type.Literal('none'), Type.Literal('challenge')], { default: 'none' }),
  challengeDifficulty: Type.Integer({ minimum: 0, maximum: 32, default: 16 }),
  segments: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  /** Redis shards of the stock; default: 1 on a single Redis, 3 on a Redis Cluster (one per master of the usual 3-master cluster). */
  shards: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  waitingRoom: Type.Optional(WaitingRoomInput),
});

/** PATCH /api/v1/admin/activities/{id}: only these fields may change. */
export const UpdateActivityBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  priceCents: Type.Optional(Cents),
  endAt: Type.Optional(IsoTime),
  waitingRoom: Type.Optional(WaitingRoomInput),
});

export const PurchaseBody = Type.Object({
  requestId: Type.String({ minLength: 1, maxLength: 64 }),
  quantity: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
  challenge: Type.Optional(
    Type.Object({
      challengeId: Type.String({ minLength: 1, maxLength: 100 }),
      nonce: Type.String({ minLength: 0, maxLength: 200 }),
    }),
  ),
});

export const DevTokenBody = Type.Object({
  userId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
});
