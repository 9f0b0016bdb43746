/**
 * Builds the services on top of the infrastructure, once per process, layer by layer: platform
 * plumbing, inventory, then the guard and the order lifecycle, the purchase path, reconciliation.
 * Each service gets only what it uses; this file is the one place that knows them all.
 */
import { createGuard } from '../guard/guard.ts';
import { createAdminAuth, createUserAuth } from '../http/auth.ts';
import { createActivityCache } from '../inventory/activity-cache.ts';
import { createCatalog } from '../inventory/catalog.ts';
import { createAdminAudit } from '../platform/admin-audit.ts';
import { createInventory, type OrderPipeline } from '../inventory/inventory.ts';
import { createSoldOutFlags } from '../inventory/sold-out.ts';
import { createCancellation } from '../lifecycle/cancellation.ts';
import { createOrders } from '../lifecycle/orders.ts';
import { createPaymentSimulator } from '../lifecycle/payment-simulator.ts';
import { createPayments } from '../lifecycle/payments.ts';
import { createWaitlist } from '../lifecycle/waitlist.ts';
import { leaseSnowflake } from '../platform/ids.ts';
import type { Infra } from '../platform/infra.ts';
import { registerRefundsOwed } from '../platform/metrics.ts';
import { createPubSub } from '../platform/pubsub.ts';
import { createDegradedAdmission } from '../purchase/degraded-admission.ts';
import { createOrderPublisher } from '../purchase/order-publisher.ts';
import { createPurchase } from '../purchase/purchase.ts';
import { createUnsettledPublishes } from '../purchase/unsettled-publishes.ts';
import { createReconciler } from '../reconcile/reconcile.ts';
import { createPasses } from '../waiting-room/passes.ts';
import { createWaitingRoom } from '../waiting-room/waiting-room.ts';

export async function createServices(infra: Infra) {
  const { config, db, redis, redisSub, keys, kafka, metrics, log } = infra;
  const pubsub = createPubSub(redis, redisSub, log);
  const soldOut = await createSoldOutFlags(pubsub, keys.stockReturnedChannel);
  const activities = await createActivityCache({ db, redis, keys, pubsub, channel: keys.activityInvalidateChannel, metrics });
  const orderPipelineIdle = async () => (await kafka.groupLag(kafka.topics.orderWorkerGroup, kafka.topics.orders)) === 0;
  const orderGroup = () => kafka.groupOffsets(kafka.topics.orderWorkerGroup, kafka.topics.orders);
  const orderPipeline: OrderPipeline = {
    mark: async () => new Map((await orderGroup()).map((p) => [p.partition, p.end])),
    passed: async (mark) => (await orderGroup()).every((p) => p.committed >= (mark.get(p.partition) ?? 0n)),
  };
  const inventory = createInventory(db, redis, keys, soldOut, { orderPipeline, log: log.child({ component: 'inventory' }) });
  const orders = createOrders(db, redis, keys, pubsub, activities);
  const catalog = createCatalog(db, inventory, activities, config.redis.cluster ? 3 : 1);
  const ids = await leaseSnowflake(redis, keys, infra.instanceId);
  const publisher = createOrderPublisher(kafka.producer, kafka.topics.orders, { metrics });
  // After the win: waitlist, cancellation, payments.
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
    publisher,
    orders,
  });
  // Holding the line: rate limits, anti-bot, load shedding, per-node Redis breakers; and what a
  // purchase does while its node's breaker is open (SECKILL_DEGRADE_ADMIT_RATIO).
  const degrade = createDegradedAdmission({ ratio: config.degradeAdmitRatio, ids, publisher });
  const guard = createGuard({ infra, inventory, onRedisBack: () => degrade.forget() });
  // The waiting room: with one, a purchase needs the pass of an admitted ticket (checked first:
  // someone who skipped the line is refused before costing a rate-limit or proof-of-work check).
  const waitingRoom = createWaitingRoom({
    redis,
    keys,
    activities,
    pubsub,
    passes: createPasses(config.jwtSecret),
    log: log.child({ component: 'waiting-room' }),
    metrics,
    hasWaitlistOffer: async (userId, activityId) =>
      waitlist.offering(activityId) && (await waitlist.get(userId, activityId).catch(() => undefined))?.status === 'OFFERED',
  });
  await waitingRoom.listen();
  const unsettled = createUnsettledPublishes({ db, redis, keys, metrics, log: log.child({ component: 'unsettled-publishes' }) });
  const purchase = createPurchase({
    redis,
    keys,
    activities,
    soldOut,
    inventory,
    orders,
    publisher,
    unsettled,
    ids,
    log,
    waitlist,
    admissionChecks: [waitingRoom.check, ...guard.admissionChecks],
    redisBreaker: guard.breaker,
    degrade,
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
    publisher,
    purchase,
    unsettled,
    guard,
    waitlist,
    waitingRoom,
    cancellation,
    payments,
    paymentSimulator,
    reconciler,
    userAuth: createUserAuth(config.jwtSecret),
    adminAuth: createAdminAuth(config.adminToken),
    audit: createAdminAudit(db, config.adminToken),
    async close() {
      guard.close();
      activities.close();
      await ids.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
