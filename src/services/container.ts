/** Builds the services on top of the infrastructure, once per process, in dependency order. */
import { createAdminAuth, createUserAuth } from '../http/auth.ts';
import type { Infra } from '../infra.ts';
import { createOrderPublisher } from '../kafka/order-publisher.ts';
import { registerRefundsOwed } from '../metrics.ts';
import { createActivityCache } from './activity-cache.ts';
import { createCancellation } from './cancellation.ts';
import { createCatalog } from './catalog.ts';
import { createGuard } from './guard.ts';
import { createInventory } from './inventory.ts';
import { createOrders } from './orders.ts';
import { createPaymentSimulator } from './payment-simulator.ts';
import { createPayments } from './payments.ts';
import { createPubSub } from './pubsub.ts';
import { createPurchase } from './purchase.ts';
import { createReconciler } from './reconcile.ts';
import { leaseSnowflake } from './snowflake.ts';
import { createSoldOutFlags } from './sold-out.ts';
import { createWaitlist } from './waitlist.ts';

export async function createServices(infra: Infra) {
  const { config, db, redis, redisSub, keys, kafka, metrics, log } = infra;
  const pubsub = createPubSub(redis, redisSub, log);
  const soldOut = await createSoldOutFlags(pubsub, keys.stockReturnedChannel);
  const activities = await createActivityCache({ db, redis, keys, pubsub, channel: keys.activityInvalidateChannel, metrics });
  const orderPipelineIdle = async () => (await kafka.groupLag(kafka.topics.orderWorkerGroup, kafka.topics.orders)) === 0;
  const inventory = createInventory(db, redis, keys, soldOut, { orderPipelineIdle, log: log.child({ component: 'inventory' }) });
  const orders = createOrders(db, redis, keys, pubsub, activities);
  const catalog = createCatalog(db, inventory, activities, config.redis.cluster ? 3 : 1);
  const ids = await leaseSnowflake(redis, keys, infra.instanceId);
  const publisher = createOrderPublisher(kafka.producer, kafka.topics.orders, { metrics });
  // Issue #4 (after the win): waitlist, cancellation, payments, reconciliation.
  const waitlist = await createWaitlist({ redis, keys, pubsub, activities, soldOut, offerSeconds: config.waitlistOfferSeconds, log, metrics });
  const cancellation = createCancellation({ db, redis, keys, activities, soldOut, orders, waitlist, log });
  const payments = createPayments({ db, ids, orders, cancellation, log, metrics });
  registerRefundsOwed(metrics.registry, payments.refundsOwed);
  const paymentSimulator = createPaymentSimulator({ ...config.paymentSimulator, secret: config.paymentSecret, log });
  const reconciler = createReconciler({
    db,
    redis,
    keys,
    inventory,
    cancellation,
    log,
    metrics,
    orderPipelineIdle,
    soldOut,
  });
  // Issue #5: rate limits, anti-bot, load shedding, Redis breaker and degraded admission.
  const guard = createGuard({ infra, inventory, ids, publisher });
  const purchase = createPurchase({
    redis,
    keys,
    activities,
    soldOut,
    inventory,
    orders,
    publisher,
    ids,
    log,
    waitlist,
    admissionChecks: guard.admissionChecks,
    redisBreaker: guard.breaker,
    degrade: guard.degrade,
    replication: { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs, onShort: () => metrics.redisWaitShort.inc() },
  });
  return {
    pubsub,
    soldOut,
    activities,
    inventory,
    orders,
    catalog,
    ids,
    purchase,
    guard,
    waitlist,
    cancellation,
    payments,
    paymentSimulator,
    reconciler,
    userAuth: createUserAuth(config.jwtSecret),
    adminAuth: createAdminAuth(config.adminToken),
    async close() {
      guard.close();
      activities.close();
      await ids.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
