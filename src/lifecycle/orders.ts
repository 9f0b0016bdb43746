/**
 * Reading orders for their owner, and telling every instance when one changes status.
 * A reserved order is answered QUEUED from Redis until the worker has written its row.
 */
import { findLatestOrder, findOrder } from '../db/repositories/orders.ts';
import type { Db } from '../db/client.ts';
import { AppError } from '../domain/errors.ts';
import type { Order } from '../domain/order.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { homeKeys } from '../redis/shards.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { PubSub } from '../platform/pubsub.ts';
import { snowflakeTime } from '../platform/ids.ts';

export interface OrderEvent {
  type: 'order';
  order: Order;
}

export interface Orders {
  /** Where a just-reserved order can be found by id alone while it is QUEUED. */
  rememberQueued(order: QueuedOrder): Promise<void>;
  /** Drops the QUEUED view of an order that will never exist. */
  forgetQueued(orderId: string): Promise<void>;
  get(userId: string, orderId: string): Promise<Order>;
  latest(userId: string, activityId: string): Promise<Order>;
  /** Announces a status change to the owner's WebSockets, on whichever instance they are. */
  announce(order: Order): Promise<void>;
  onAnnounce(handler: (order: Order) => void): Promise<void>;
}

export interface QueuedOrder {
  orderId: string;
  activityId: string;
  userId: string;
  quantity: number;
  amountCents: number;
  ttlSeconds: number;
}

const notFound = () => new AppError('NOT_FOUND', 'order not found');

export function createOrders(db: Db, redis: RedisClient, keys: Keys, pubsub: PubSub, activities: Pick<ActivityCache, 'get'>): Orders {
  async function queued(orderId: string): Promise<Order | undefined> {
    // Redis down (degraded mode): no QUEUED view, never a 500; the row shows once the worker writes it.
    const value = await redis.get(keys.order(orderId)).catch(() => null);
    if (!value) return undefined;
    const { activityId, userId, quantity, amountCents } = JSON.parse(value) as QueuedOrder;
    // Callers look for the row first: without one, the order is still QUEUED. (Every way out of
    // QUEUED writes a row — PENDING_PAYMENT or FAILED — except a refused publish, whose id the
    // client never received and whose view is deleted with it.)
    return {
      orderId,
      activityId,
      userId,
      quantity,
      amountCents,
      status: 'QUEUED',
      createdAt: snowflakeTime(orderId).toISOString(),
    };
  }

  async function find(orderId: string): Promise<Order | undefined> {
    // Row first: after the worker commits, the row is the truth even if the Redis view lingers.
    return (await findOrder(db, orderId)) ?? (await queued(orderId)) ?? (await findOrder(db, orderId));
  }

  return {
    async rememberQueued(order) {
      const { ttlSeconds, ...view } = order;
      await redis.set(keys.order(order.orderId), JSON.stringify(view), 'EX', ttlSeconds);
    },

    async forgetQueued(orderId) {
      await redis.del(keys.order(orderId));
    },

    async get(userId, orderId) {
      if (!/^\d{1,20}$/.test(orderId)) throw new AppError('INVALID_REQUEST', 'orderId must be a decimal id');
      const order = await find(orderId);
      // Someone else's order is "not found": its existence is not leaked.
      if (!order || order.userId !== userId) throw notFound();
      return order;
    },

    async latest(userId, activityId) {
      // The last order id lives on the buyer's home shard, with their reservations.
      const lastOrderId = async () => {
        const shards = (await activities.get(activityId))?.shards ?? 1;
        return redis.get(homeKeys(keys, activityId, userId, shards).lastOrder(userId));
      };
      const [row, lastId] = await Promise.all([findLatestOrder(db, activityId, userId), lastOrderId().catch(() => null)]);
      if (lastId && (!row || BigInt(lastId) > BigInt(row.orderId))) {
        const order = await find(lastId);
        // A second id given to an already-ordered request (FAILED DUPLICATE_REQUEST) is not the user's order.
        if (order && order.userId === userId && order.reason !== 'DUPLICATE_REQUEST') return order;
      }
      if (!row) throw notFound();
      return row;
    },

    async announce(order) {
      await pubsub.publish(keys.orderEventsChannel, JSON.stringify(order));
    },

    async onAnnounce(handler) {
      await pubsub.subscribe(keys.orderEventsChannel, (message) => handler(JSON.parse(message) as Order));
    },
  };
}
