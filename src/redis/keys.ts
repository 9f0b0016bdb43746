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
}

export interface Keys {
  prefix: string;
  activity(activityId: string): ActivityKeys;
  /** Where a QUEUED order is found by id alone (which activity, whose, how many). */
  order(orderId: string): string;
  /** Snowflake worker-id lease. */
  workerLease(workerId: number): string;
  /** Pub/sub channel: "units came back to <activityId>" → every instance clears its sold-out flag. */
  stockReturnedChannel: string;
  /** Pub/sub channel: order status changes, for WebSocket fan-out from any instance. */
  orderEventsChannel: string;
  /** Pub/sub channel: activity detail changed → drop local caches. */
  activityInvalidateChannel: string;
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
      };
    },
    order: (orderId) => `${prefix}:o:${orderId}`,
    workerLease: (workerId) => `${prefix}:worker:${workerId}`,
    stockReturnedChannel: `${prefix}:ch:stock-returned`,
    orderEventsChannel: `${prefix}:ch:orders`,
    activityInvalidateChannel: `${prefix}:ch:activity-invalidate`,
  };
}
