/**
 * Every Redis key name comes from here. All keys of one activity share the hash tag `{a<id>}`, so
 * in Redis Cluster they live on one slot and the reservation stays a single atomic script
 * (idempotency + per-user limit + stock decrement cannot be split across slots without losing the
 * promise). Segments spread the *write contention* of a hot activity inside that slot and keep the
 * code ready to move segments to their own tags; different activities spread over the cluster.
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
  /** Units each user holds in this activity (non-cancelled, including in flight). */
  user(userId: string): string;
  /** The stored answer to one (user, requestId): an order id or an error code. */
  request(userId: string, requestId: string): string;
  /** The user's latest order id in the activity (my-order while the order is still QUEUED). */
  lastOrder(userId: string): string;
  /** Set once when a cancelled order's units came back: makes the return idempotent. */
  returned(orderId: string): string;
  /** Cached public detail of the activity. */
  detail: string;
  /** An issued anti-bot challenge: "userId|prefix|difficulty|expiresAtMs", single-use. */
  challenge(challengeId: string): string;
  /** The waitlist (候补, issue #4); see src/redis/lifecycle.ts. */
  waitlist: WaitlistKeys;
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
  activity(activityId: string): ActivityKeys;
  /** Where a QUEUED order is found by id alone (which activity, whose, how many). */
  order(orderId: string): string;
  /** GCRA state of one rate-limited key (`kind` = user | ip); its own hash tag spreads them over a cluster. */
  throttle(kind: string, id: string): string;
  /** Snowflake worker-id lease. */
  workerLease(workerId: number): string;
  /** Pub/sub channel: "units came back to <activityId>" → every instance clears its sold-out flag. */
  stockReturnedChannel: string;
  /** Pub/sub channel: order status changes, for WebSocket fan-out from any instance. */
  orderEventsChannel: string;
  /** Pub/sub channel: activity detail changed → drop local caches. */
  activityInvalidateChannel: string;
  /** Pub/sub channel: waitlist offers made/changed (WebSocket push, purchase path's offer check). */
  waitlistChannel: string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    activity(activityId) {
      const base = `${prefix}:{a${activityId}}`;
      return {
        segmentPrefix: `${base}:seg:`,
        nonEmpty: `${base}:nonempty`,
        remaining: `${base}:remaining`,
        reservations: `${base}:resv`,
        user: (userId) => `${base}:u:${userId}`,
        request: (userId, requestId) => `${base}:r:${userId}:${requestId}`,
        lastOrder: (userId) => `${base}:last:${userId}`,
        returned: (orderId) => `${base}:ret:${orderId}`,
        detail: `${base}:detail`,
        challenge: (challengeId) => `${base}:chal:${challengeId}`,
        waitlist: {
          queue: `${base}:wl:q`,
          seq: `${base}:wl:seq`,
          offers: `${base}:wl:offers`,
          held: `${base}:wl:held`,
          expired: `${base}:wl:expired`,
        },
      };
    },
    order: (orderId) => `${prefix}:o:${orderId}`,
    throttle: (kind, id) => `${prefix}:rl:{${kind}:${id}}`,
    workerLease: (workerId) => `${prefix}:worker:${workerId}`,
    stockReturnedChannel: `${prefix}:ch:stock-returned`,
    orderEventsChannel: `${prefix}:ch:orders`,
    activityInvalidateChannel: `${prefix}:ch:activity-invalidate`,
    waitlistChannel: `${prefix}:ch:waitlist`,
  };
}
