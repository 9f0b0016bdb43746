/** Builds the services on top of the infrastructure, once per process, in dependency order. */
import { createAdminAuth, createUserAuth } from '../http/auth.ts';
import type { Infra } from '../infra.ts';
import { createOrderPublisher } from '../kafka/order-publisher.ts';
import { createActivityCache } from './activity-cache.ts';
import { createCatalog } from './catalog.ts';
import { createInventory } from './inventory.ts';
import { createOrders } from './orders.ts';
import { createPubSub } from './pubsub.ts';
import { createPurchase } from './purchase.ts';
import { leaseSnowflake } from './snowflake.ts';
import { createSoldOutFlags } from './sold-out.ts';

export async function createServices(infra: Infra) {
  const { config, db, redis, redisSub, keys, kafka, metrics, log } = infra;
  const pubsub = createPubSub(redis, redisSub, log);
  const soldOut = await createSoldOutFlags(pubsub, keys.stockReturnedChannel);
  const activities = await createActivityCache(db, pubsub, keys.activityInvalidateChannel);
  const inventory = createInventory(db, redis, keys, soldOut);
  const orders = createOrders(db, redis, keys, pubsub);
  const catalog = createCatalog(db, inventory, activities);
  const ids = await leaseSnowflake(redis, keys, infra.instanceId);
  const publisher = createOrderPublisher(kafka.producer, kafka.topics.orders);
  const purchase = createPurchase({ redis, keys, activities, soldOut, inventory, orders, publisher, ids, metrics, log });
  return {
    pubsub,
    soldOut,
    activities,
    inventory,
    orders,
    catalog,
    ids,
    purchase,
    userAuth: createUserAuth(config.jwtSecret),
    adminAuth: createAdminAuth(config.adminToken),
    async close() {
      await ids.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
