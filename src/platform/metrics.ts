/**
 * Prometheus metrics, one registry per app instance (tests run several apps in one process).
 * Everything the dashboard and the benchmarks read about the purchase path is counted here.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The label values each labelled counter is created with, at 0, when the registry is made. A
 * labelled series does not exist until its first increment, and `increase()` reads a series that
 * appears at 1 as no increase at all: the first guarantee breach would never fire its alert, and a
 * worker that never persisted would have no `seckill_orders_persisted_total` to be compared with.
 * Every value a rule in deploy/prometheus/rules.yml or a dashboard panel selects is listed here.
 */
export const KNOWN_LABELS = {
  purchaseOutcome: [
    'RESERVED',
    'REPLAY',
    'DEGRADED',
    'SOLD_OUT',
    'LIMIT_EXCEEDED',
    'NOT_STARTED',
    'ENDED',
    'PAUSED',
    'NOT_FOUND',
    'RATE_LIMITED',
    'CHALLENGE_REQUIRED',
    'CHALLENGE_FAILED',
    'PASS_REQUIRED',
    'PASS_INVALID',
    'PASS_EXPIRED',
    'BUSY',
    'UNAUTHORIZED',
    'INVALID_REQUEST',
    'INTERNAL',
  ],
  guaranteeBreachKind: ['duplicate_request', 'refused_by_mysql'],
  persistedStatus: ['PENDING_PAYMENT', 'FAILED'],
  reconcileRepairKind: ['restocked', 'republished', 'released', 'restored'],
  cacheLookupResult: ['hit', 'miss'],
  cacheLoadSource: ['redis', 'mysql'],
  wsRefusedReason: ['user', 'ip', 'instance'],
  wsClosedReason: ['client', 'heartbeat', 'idle', 'slow_consumer', 'shutdown'],
  queueClosedReason: ['SOLD_OUT', 'ENDED'],
} as const;

/** Creates one series at 0 per value (a counter's `inc` by 0 makes the series and adds nothing). */
export function initLabels<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): void {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
}

export function createMetrics() {
  const metrics = defineMetrics();
  initLabels(metrics.purchases, 'outcome', KNOWN_LABELS.purchaseOutcome);
  initLabels(metrics.guaranteeBreaches, 'kind', KNOWN_LABELS.guaranteeBreachKind);
  initLabels(metrics.ordersPersisted, 'status', KNOWN_LABELS.persistedStatus);
  initLabels(metrics.reconcileRepairedOrders, 'kind', KNOWN_LABELS.reconcileRepairKind);
  initLabels(metrics.activityCacheLookups, 'result', KNOWN_LABELS.cacheLookupResult);
  initLabels(metrics.activityCacheLoads, 'source', KNOWN_LABELS.cacheLoadSource);
  initLabels(metrics.wsRefused, 'reason', KNOWN_LABELS.wsRefusedReason);
  initLabels(metrics.wsClosed, 'reason', KNOWN_LABELS.wsClosedReason);
  initLabels(metrics.queueClosedEarly, 'reason', KNOWN_LABELS.queueClosedReason);
  return metrics;
}

function defineMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters fail `promtool check metrics`; each is the sum of the labelled
  // nodejs_active_{handles,requests,resources} series that stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return {
    registry,
    httpDuration: new Histogram({
      name: 'seckill_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    purchases: new Counter({
      name: 'seckill_purchase_total',
      help: 'Purchase requests by the answer they got, counted once when answered: RESERVED, REPLAY (a repeated requestId), DEGRADED (admitted while Redis was down), or the error code (SOLD_OUT, LIMIT_EXCEEDED, NOT_STARTED, ENDED, PAUSED, NOT_FOUND, RATE_LIMITED, CHALLENGE_REQUIRED, CHALLENGE_FAILED, BUSY, UNAUTHORIZED, INVALID_REQUEST, INTERNAL)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    httpRefusals: new Counter({
      name: 'seckill_http_refusals_total',
      help: 'Requests refused with an answer a crowd produces by the thousand (403, 409, 429, 503), by route and error code: their access lines are written at debug level only, so this is where a rush of SOLD_OUT, LIMIT_EXCEEDED, RATE_LIMITED or BUSY shows',
      labelNames: ['route', 'code'] as const,
      registers: [registry],
    }),
    purchasesShed: new Counter({
      name: 'seckill_purchase_shed_total',
      help: 'Purchases refused by load shedding (in-flight limit or event-loop lag) before any I/O; a subset of outcome BUSY',
      registers: [registry],
    }),
    activityCacheLookups: new Counter({
      name: 'seckill_activity_cache_lookups_total',
      help: 'Activity reads by the process-local cache: result=hit (served from memory) or miss (loaded from Redis or MySQL, single-flight)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    activityCacheLoads: new Counter({
      name: 'seckill_activity_cache_loads_total',
      help: 'Activity cache misses by where the activity was found: source=redis (the shared copy) or mysql (a rebuild)',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    redisBreakerState: new Gauge({
      name: 'seckill_redis_breaker_state',
      help: 'The Redis circuit breaker of the purchase path: 0 closed, 1 half-open (probing), 2 open (purchases answer BUSY or degrade)',
      registers: [registry],
      // Several API processes: the worst state is the one an operator must see.
      aggregator: 'max',
    }),
    redisScriptDuration: new Histogram({
      name: 'seckill_redis_script_duration_seconds',
      help: 'Duration of Lua script calls to Redis as the caller sees them (queueing and auto-pipelining included), by script',
      labelNames: ['script'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    workerPersistDuration: new Histogram({
      name: 'seckill_worker_persist_duration_seconds',
      help: "Duration of the order worker's MySQL transaction persisting one activity's batch (orders, quotas, stock, outbox)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    kafkaProduceDuration: new Histogram({
      name: 'seckill_kafka_produce_duration_seconds',
      help: 'Duration of Kafka produce requests (acks=all) by topic (orders: reservations; events: the outbox relay) and result (ok, error)',
      labelNames: ['topic', 'result'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    paymentsInitiated: new Counter({
      name: 'seckill_payments_initiated_total',
      help: 'Payments started (a new PROCESSING payment; paying an order twice counts once)',
      registers: [registry],
    }),
    paymentCallbacks: new Counter({
      name: 'seckill_payment_callbacks_total',
      help: "Verified payment callbacks by the provider's status (SUCCEEDED, FAILED) and what they did (paid, cancelled, refund-required, failed, replay)",
      labelNames: ['status', 'result'] as const,
      registers: [registry],
    }),
    reaperExpired: new Counter({
      name: 'seckill_reaper_expired_orders_total',
      help: 'Unpaid orders cancelled by the payment-timeout reaper (PAYMENT_TIMEOUT)',
      registers: [registry],
    }),
    reconcileDriftUnits: new Counter({
      name: 'seckill_reconcile_drift_units_total',
      help: "Units by which Redis's stock counter differed from MySQL's truth when reconciliation reloaded it",
      registers: [registry],
    }),
    reconcileRepairedOrders: new Counter({
      name: 'seckill_reconcile_repaired_orders_total',
      help: 'Orders repaired by reconciliation: kind=restocked (a cancellation whose units never got back to Redis), kind=republished (a reservation with no order row, published to Kafka again), kind=released (a reservation MySQL refused whose units the worker had not given back), kind=restored (a reservation Redis lost while its API process was still publishing it, written back)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    waitlistOffers: new Counter({
      name: 'seckill_waitlist_offers_total',
      help: 'Waitlist offers made (returned units held for the next user in line)',
      registers: [registry],
    }),
    ordersPersisted: new Counter({
      name: 'seckill_orders_persisted_total',
      help: 'Orders written to MySQL by the order worker, by resulting status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    workerDbRetries: new Counter({
      name: 'seckill_worker_db_retries_total',
      help: 'Order worker retries because MySQL or Redis was unreachable (an outage never dead-letters a message)',
      registers: [registry],
    }),
    redisWaitShort: new Counter({
      name: 'seckill_redis_wait_short_total',
      help: 'Reservations fewer Redis replicas acknowledged than SECKILL_REDIS_WAIT_REPLICAS within the timeout (a failover could lose them)',
      registers: [registry],
    }),
    guaranteeBreaches: new Counter({
      name: 'seckill_guarantee_breaches_total',
      help: 'Times a promise could only be kept in its weaker form: kind=duplicate_request (Redis forgot an answer and one request got two order ids; the second is FAILED), kind=refused_by_mysql (MySQL refused an order Redis had accepted, e.g. after a failover lost a reservation)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    ordersDeadLettered: new Counter({
      name: 'seckill_orders_dead_lettered_total',
      help: 'Order messages sent to the dead-letter topic after bounded retries',
      registers: [registry],
    }),
    workerBatchSize: new Histogram({
      name: 'seckill_worker_batch_size',
      help: 'Orders per worker batch',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    wsOpen: new Gauge({
      name: 'seckill_ws_open_sockets',
      help: 'WebSockets open on this instance (admitted, not yet closed)',
      registers: [registry],
    }),
    wsRefused: new Counter({
      name: 'seckill_ws_refused_total',
      help: 'WebSockets closed at once after the upgrade because a cap was reached: reason=user (SECKILL_WS_MAX_PER_USER, close code 4001), ip (SECKILL_WS_MAX_PER_IP, 4002), instance (SECKILL_WS_MAX_PER_INSTANCE, 4003)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    wsClosed: new Counter({
      name: 'seckill_ws_closed_total',
      help: 'Admitted WebSockets closed, by why: client (the peer closed or the connection failed), heartbeat (a ping unanswered for two intervals), idle (4004, nothing from the client for SECKILL_WS_IDLE_TIMEOUT_MS), slow_consumer (4005, unsent bytes past SECKILL_WS_MAX_BUFFERED_BYTES), shutdown (1001)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    wsMessages: new Counter({
      name: 'seckill_ws_messages_sent_total',
      help: 'Messages written to WebSockets (one per socket reached)',
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'seckill_purchase_inflight',
      help: 'Purchase requests being handled by this instance',
      registers: [registry],
    }),
    // The waiting room: joins and purchases are counted where they happen; the rest by the one
    // admission leader (other instances report 0), so sum() over instances is the activity's truth.
    queueJoins: new Counter({
      name: 'seckill_queue_joins_total',
      help: 'Places given in waiting rooms (a repeated join of the same person is not counted)',
      registers: [registry],
    }),
    queueWaiting: new Gauge({
      name: 'seckill_queue_waiting',
      help: 'People waiting in every waiting room (set by the admission leader; 0 elsewhere)',
      registers: [registry],
    }),
    queueAdmitted: new Counter({
      name: 'seckill_queue_admitted_total',
      help: 'People admitted from waiting rooms with a pass',
      registers: [registry],
    }),
    queueBought: new Counter({
      name: 'seckill_queue_bought_total',
      help: 'Reservations made by admitted people (with a valid pass)',
      registers: [registry],
    }),
    queueAbandoned: new Counter({
      name: 'seckill_queue_abandoned_total',
      help: 'Places dropped because their holder stopped polling for keepSeconds',
      registers: [registry],
    }),
    queuePassesExpired: new Counter({
      name: 'seckill_queue_passes_expired_total',
      help: 'Passes that ran out unused',
      registers: [registry],
    }),
    queueClosedEarly: new Counter({
      name: 'seckill_queue_closed_early_total',
      help: 'Tickets still waiting when their sale closed: reason=SOLD_OUT (nothing could come back; told at once) or ENDED',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    queueWaitSeconds: new Histogram({
      name: 'seckill_queue_wait_seconds',
      help: 'Time from joining a waiting room to being admitted',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof defineMetrics>;

/** Runs one Kafka produce request and records how long it took, and whether it succeeded. */
export async function timeProduce<T>(
  metrics: Pick<Metrics, 'kafkaProduceDuration'> | undefined,
  topic: 'orders' | 'events',
  send: () => Promise<T>,
): Promise<T> {
  const startedAt = performance.now();
  let result = 'error';
  try {
    const value = await send();
    result = 'ok';
    return value;
  } finally {
    metrics?.kafkaProduceDuration.observe({ topic, result }, (performance.now() - startedAt) / 1000);
  }
}

/** Records script durations by name; one histogram child per script, made once (no per-call labels object). */
export function scriptObserver(metrics: Pick<Metrics, 'redisScriptDuration'>): (name: string, seconds: number) => void {
  const children = new Map<string, { observe(seconds: number): void }>();
  return (name, seconds) => {
    let child = children.get(name);
    if (!child) {
      child = metrics.redisScriptDuration.labels(name);
      children.set(name, child);
    }
    child.observe(seconds);
  };
}

// ---- Refunds owed: money an operator must give back, read from MySQL at scrape time ----

/** One reading serves the scrapes of this many ms, so a busy Prometheus does not hammer MySQL. */
const REFUNDS_OWED_MAX_AGE_MS = 5000;
/** A scrape waits this long for MySQL, then reports the last reading (NaN before the first). */
const REFUNDS_OWED_WAIT_MS = 1000;

/**
 * `seckill_refunds_owed` and `seckill_refunds_owed_cents`: payments that succeeded after their order
 * was cancelled and are not refunded yet. A database fact, not a process count, so it is read
 * (single-flight) when scraped; every instance reports the same value (aggregator: max).
 */
export function registerRefundsOwed(registry: Registry, read: () => Promise<{ count: number; cents: number }>): void {
  let last = { count: Number.NaN, cents: Number.NaN };
  let readAt = 0;
  let reading: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    if (reading) return reading;
    if (Date.now() - readAt < REFUNDS_OWED_MAX_AGE_MS) return Promise.resolve();
    reading = read()
      .then((value) => {
        last = value;
        readAt = Date.now();
      })
      // MySQL away: keep the last reading (/readyz and the error log say why); retry next scrape.
      .catch(() => undefined)
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const current = async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([refresh(), new Promise<void>((resolve) => (timer = setTimeout(resolve, REFUNDS_OWED_WAIT_MS)))]);
    clearTimeout(timer);
    return last;
  };
  new Gauge({
    name: 'seckill_refunds_owed',
    help: 'Payments that succeeded after their order was cancelled and are not refunded yet (GET /api/v1/admin/refunds)',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.set((await current()).count);
    },
  });
  new Gauge({
    name: 'seckill_refunds_owed_cents',
    help: 'The sum of the refunds owed, in cents',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.set((await current()).cents);
    },
  });
}
