/**
 * Every Redis key name comes from here. An activity's stock is split over N shards (README, "Keys and Redis Cluster");
 * all keys of one shard share one hash tag, so in Redis Cluster a shard lives on one slot and the
 * reservation stays a single atomic script on the buyer's *home shard* (idempotency + per-user
 * limit + stock decrement cannot be split across slots without losing the promise). With N = 1 the
 * one shard's tag is `{a<id>}`, exactly the keys of before; with N > 1 shard i's tag is
 * `{a<id>.<k>}`, k searched so that its slot falls in the i-th of N equal slices of 0..16383: on a
 * cluster whose slots are split evenly over its masters, the shards land on different masters.
 * Segments spread the write contention inside a shard.
 */
export interface ActivityKeys {
  /** `<base>:seg:<i>` — one stock counter per segment; the prefix is passed to the scripts. */
  segmentPrefix: string;
  /** Set of segment indexes that still hold units: empty segments are skipped without a probe. */
  nonEmpty: string;
  /** Sum of all segments, kept by the same scripts: the O(1) sold-out check and `remaining`. */
  remaining: string;
  /** Hash orderId → "userId|quantity|reservedAtMs|requestId": reservations not yet settled by the worker. */
  reservations: string;
  /**
   * Hash orderId → "reservedAtMs|userId|requestId": reservations whose Kafka publish is not yet
   * confirmed. Their answer reads "P:<orderId>" meanwhile, and while any exist the activity is
   * never called SOLD_OUT (a failed publish gives the units back).
   */
  pending: string;
  /** Units each user holds in this activity (non-cancelled, including in flight). */
  user(userId: string): string;
  /** The stored answer to one (user, requestId): an order id or an error code. */
  request(userId: string, requestId: string): string;
  /** The user's latest order id in the activity (my-order while the order is still QUEUED). */
  lastOrder(userId: string): string;
  /** Set once when a cancelled order's units came back: makes the return idempotent. */
  returned(orderId: string): string;
  /** Hash transferId → "units|takenAtMs|toShard": units taken out of this shard by a steal, not yet given. */
  transit: string;
  /** Set once per transfer on the receiving shard: makes the give idempotent, and lets a reconciliation void it. */
  given(transferId: string): string;
  /** Set while a load recounts the whole activity from MySQL: no unit may leave this shard for another meanwhile. */
  loading: string;
  /** Cached public detail of the activity. */
  detail: string;
  /** An issued anti-bot challenge: "userId|prefix|difficulty|expiresAtMs", single-use. */
  challenge(challengeId: string): string;
  /** The waitlist (候补); see src/redis/waitlist.ts. */
  waitlist: WaitlistKeys;
  /** This shard's part of the waiting room (排队); see src/redis/waiting-room.ts. */
  queue: QueueKeys;
}

/**
 * One shard of an activity's waiting room: a waiting person's entries live on their home shard,
 * beside their reservation keys, so joins and polls spread like purchases do.
 */
export interface QueueKeys {
  /** ZSET userId → order score (lower goes first): the people waiting (pre-queue included). */
  line: string;
  /** ZSET userId → last poll (epoch ms): whoever stays silent past keepSeconds is dropped. */
  seen: string;
  /** ZSET userId → pass expiry (epoch ms): the people admitted. */
  admitted: string;
  /** HASH userId → "joinedAtMs|admittedAtMs": when each ticket joined and was admitted. */
  tickets: string;
  /** HASH userId → reason: tickets closed one by one (ABANDONED, PASS_EXPIRED, LEFT). */
  closed: string;
  /** HASH of this shard's counters: joined, admitted, bought, abandoned, expired. */
  counters: string;
  /** Shard 0 only — HASH: the activity-wide view the admission leader publishes (closed, rate, units…). */
  control: string;
  /** Shard 0 only — HASH: the admission token bucket (tokens, last refill). */
  bucket: string;
}

export interface WaitlistKeys {
  /** ZSET userId → join sequence: the users still waiting, in order. */
  queue: string;
  /** Counter giving each join its sequence number. */
  seq: string;
  /** HASH userId → offer expiry (epoch ms): users currently offered one held unit. */
  offers: string;
  /** Units taken off open sale and held for waitlisted users (offered or about to be). */
  held: string;
  /** SET of users whose offer ran out unused (GET shows EXPIRED). */
  expired: string;
}

export interface Keys {
  prefix: string;
  /** The activity's keys with one shard (N = 1), which are also the keys of shard 0 of N = 1. */
  activity(activityId: string): ActivityKeys;
  /** The keys of shard `index` of an activity split over `shards` shards (shard(id, 1, 0) = activity(id)). */
  shard(activityId: string, shards: number, index: number): ActivityKeys;
  /** Where a QUEUED order is found by id alone (which activity, whose, how many). */
  order(orderId: string): string;
  /** GCRA state of one rate-limited key (`kind` = user | ip); its own hash tag spreads them over a cluster. */
  throttle(kind: string, id: string): string;
  /** Snowflake worker-id lease. */
  workerLease(workerId: number): string;
  /** Set (with a short TTL) while an operator watches a live feed: processes share their metrics meanwhile. */
  consoleWatched: string;
  /** Hash process id → its latest metrics snapshot (JSON), read by the live feed of any instance. */
  consoleMetrics: string;
  /** Pub/sub channel: "units came back to <activityId>" → every instance clears its sold-out flag. */
  stockReturnedChannel: string;
  /** Pub/sub channel: order status changes, for WebSocket fan-out from any instance. */
  orderEventsChannel: string;
  /** Pub/sub channel: activity detail changed → drop local caches. */
  activityInvalidateChannel: string;
  /** Pub/sub channel: waitlist offers made/changed (WebSocket push, purchase path's offer check). */
  waitlistChannel: string;
  /** Pub/sub channel: waiting-room admissions and progress (WebSocket push). */
  queueChannel: string;
  /** The waiting room's admission leader lease: one process admits, however many run. */
  queueLeader: string;
}

/** CRC16/XMODEM, the Redis Cluster key-slot function: slot = crc16(tag) mod 16384. */
export function keySlot(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The cluster slot of a whole key: its hash tag's (the first non-empty `{…}`) or the key's own. */
export function slotOfKey(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return keySlot(key.slice(open + 1, close));
  }
  return keySlot(key);
}

const SLOTS = 16384;
const tagCache = new Map<string, string>();

/** The hash tag of shard `index` of `shards` (searched once, then cached; deterministic). */
export function shardTag(activityId: string, shards: number, index: number): string {
  if (shards <= 1) return `a${activityId}`;
  const cacheKey = `${activityId}/${shards}/${index}`;
  const cached = tagCache.get(cacheKey);
  if (cached) return cached;
  const low = Math.floor((index * SLOTS) / shards);
  const high = Math.floor(((index + 1) * SLOTS) / shards);
  let tag = `a${activityId}.${index}`;
  // Each try lands in the slice with probability 1/shards: a few dozen tries at most for N ≤ 64.
  for (let k = 0; k < 100_000; k++) {
    const candidate = `a${activityId}.${k}`;
    const slot = keySlot(candidate);
    if (slot >= low && slot < high) {
      tag = candidate;
      break;
    }
  }
  if (tagCache.size > 100_000) tagCache.clear();
  tagCache.set(cacheKey, tag);
  return tag;
}

/** The buyer's home shard: a stable hash of the user id (FNV-1a), mod N. */
export function homeShard(userId: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(userId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

export function createKeys(prefix: string): Keys {
  const keys: Keys = {
    prefix,
    activity(activityId) {
      return keys.shard(activityId, 1, 0);
    },
    shard(activityId, shards, index) {
      const base = `${prefix}:{${shardTag(activityId, shards, index)}}`;
      return {
        segmentPrefix: `${base}:seg:`,
        nonEmpty: `${base}:nonempty`,
        remaining: `${base}:remaining`,
        reservations: `${base}:resv`,
        pending: `${base}:pend`,
        user: (userId) => `${base}:u:${userId}`,
        request: (userId, requestId) => `${base}:r:${userId}:${requestId}`,
        lastOrder: (userId) => `${base}:last:${userId}`,
        returned: (orderId) => `${base}:ret:${orderId}`,
        transit: `${base}:transit`,
        given: (transferId) => `${base}:given:${transferId}`,
        loading: `${base}:loading`,
        detail: `${base}:detail`,
        challenge: (challengeId) => `${base}:chal:${challengeId}`,
        waitlist: {
          queue: `${base}:wl:q`,
          seq: `${base}:wl:seq`,
          offers: `${base}:wl:offers`,
          held: `${base}:wl:held`,
          expired: `${base}:wl:expired`,
        },
        queue: {
          line: `${base}:wr:q`,
          seen: `${base}:wr:seen`,
          admitted: `${base}:wr:adm`,
          tickets: `${base}:wr:t`,
          closed: `${base}:wr:closed`,
          counters: `${base}:wr:n`,
          control: `${base}:wr:ctl`,
          bucket: `${base}:wr:bucket`,
        },
      };
    },
    order: (orderId) => `${prefix}:o:${orderId}`,
    throttle: (kind, id) => `${prefix}:rl:{${kind}:${id}}`,
    workerLease: (workerId) => `${prefix}:worker:${workerId}`,
    consoleWatched: `${prefix}:console:watched`,
    consoleMetrics: `${prefix}:console:metrics`,
    stockReturnedChannel: `${prefix}:ch:stock-returned`,
    orderEventsChannel: `${prefix}:ch:orders`,
    activityInvalidateChannel: `${prefix}:ch:activity-invalidate`,
    waitlistChannel: `${prefix}:ch:waitlist`,
    queueChannel: `${prefix}:ch:queue`,
    queueLeader: `${prefix}:wr:leader`,
  };
  return keys;
}
