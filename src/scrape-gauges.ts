/**
 * Gauges computed when /metrics is scraped, never on the purchase path: Kafka consumer lag per group
 * and partition, stock per open activity (Redis's remaining counter; MySQL's available / locked /
 * sold), and the outbox backlog. Each source is read at most once per `cacheMs` however many
 * scrapes ask (several Prometheus replicas, the dashboard's live feed every second), and within
 * `timeoutMs`: a slow MySQL or a dead broker costs the scrape that source's series (and one
 * `seckill_scrape_source_failures_total{source}`), never a hung scrape. Readiness is cached the
 * same way: its Kafka check opens an admin connection, too dear for every dashboard tick. A failure is cached too,
 * so a dead broker is not asked again by every scrape.
 *
 * Label cardinality is bounded: groups and topics are the deployment's own (a handful), partitions
 * are the topic's, and at most `maxActivities` open activities are reported.
 */
import { Counter, Gauge } from 'prom-client';
import { sql } from 'kysely';
import type { Infra } from './infra.ts';
import type { ConsumerSubscription, PartitionLag } from './kafka/client.ts';
import { remaining } from './redis/stock.ts';
import { createEventHandlers, createRecordingSender } from './services/event-handlers.ts';

export interface ScrapeGaugeOptions {
  /** /readyz's verdict (seckill_ready); absent: the gauge is not registered. */
  ready?: () => Promise<boolean>;
  cacheMs?: number;
  timeoutMs?: number;
  maxActivities?: number;
  now?: () => number;
}

interface ActivityStock {
  activityId: string;
  available: number;
  locked: number;
  sold: number;
  /** Undefined when Redis does not hold the activity (not loaded yet, or lost). */
  redisRemaining: number | undefined;
}

interface OutboxBacklog {
  rows: number;
  oldestAgeSeconds: number;
}

class SourceTimeout extends Error {
  constructor(source: string, ms: number) {
    super(`${source} did not answer within ${ms} ms`);
    this.name = 'SourceTimeout';
  }
}

function within<T>(source: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SourceTimeout(source, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type Deps = Pick<Infra, 'db' | 'redis' | 'keys' | 'kafka' | 'metrics' | 'log'>;

/** The consumer groups of this deployment and the topic each reads. */
export function consumerSubscriptions(infra: Pick<Infra, 'db' | 'kafka' | 'log'>): ConsumerSubscription[] {
  const { topics } = infra.kafka;
  return [
    { groupId: topics.orderWorkerGroup, topic: topics.orders },
    // The handlers' names make their group ids; building them has no side effect.
    ...createEventHandlers(infra.db, createRecordingSender(infra.log)).map((h) => ({ groupId: topics.eventGroup(h.name), topic: topics.events })),
  ];
}

/** Registries that have the gauges already: a metric name can be registered once per registry. */
const registered = new WeakSet<object>();

export function registerScrapeGauges(infra: Deps, options: ScrapeGaugeOptions = {}): void {
  const { db, redis, keys, kafka } = infra;
  const { registry } = infra.metrics;
  // A second ops plugin over the same metrics (a test serving a copy of the infra) keeps the first set.
  if (registered.has(registry)) return;
  registered.add(registry);
  const cacheMs = options.cacheMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxActivities = options.maxActivities ?? 50;
  const now = options.now ?? Date.now;
  const subscriptions = consumerSubscriptions(infra);

  const failures = new Counter({
    name: 'seckill_scrape_source_failures_total',
    help: 'Scrape-time sources (kafka_lag, stock, outbox, readiness) that failed or timed out; their series are missing from that scrape (seckill_ready reads 0)',
    labelNames: ['source'] as const,
    registers: [registry],
  });

  /** One read per cacheMs, shared by concurrent scrapes; undefined when the source failed. */
  function cached<T>(source: string, load: () => Promise<T>): () => Promise<T | undefined> {
    let value: T | undefined;
    let readAt = Number.NEGATIVE_INFINITY;
    let reading: Promise<T | undefined> | undefined;
    return () => {
      if (now() - readAt < cacheMs) return Promise.resolve(value);
      reading ??= within(source, load(), timeoutMs)
        .then(
          (v) => v,
          (error: unknown) => {
            failures.inc({ source });
            infra.log.debug({ err: error, source }, 'metrics source unavailable for this scrape');
            return undefined;
          },
        )
        .then((v) => {
          value = v;
          readAt = now();
          reading = undefined;
          return v;
        });
      return reading;
    };
  }

  const lag = cached('kafka_lag', (): Promise<PartitionLag[]> => kafka.consumerLag(subscriptions, timeoutMs));

  const stock = cached('stock', async (): Promise<ActivityStock[]> => {
    const rows = await db
      .selectFrom('activities')
      .innerJoin('activity_stock', 'activity_stock.activity_id', 'activities.id')
      .select(['activities.id', 'activity_stock.available', 'activity_stock.locked', 'activity_stock.sold'])
      .where('activities.end_at', '>', new Date(now()))
      .orderBy('activities.start_at', 'desc')
      .limit(maxActivities)
      .execute();
    // One GET per activity; auto-pipelining sends them together.
    const left = await Promise.all(rows.map((r) => remaining(redis, keys, String(r.id))));
    return rows.map((r, i) => ({
      activityId: String(r.id),
      available: Number(r.available),
      locked: Number(r.locked),
      sold: Number(r.sold),
      redisRemaining: left[i],
    }));
  });

  const outbox = cached('outbox', async (): Promise<OutboxBacklog> => {
    // Both read the (published_at, id) index; the oldest row's time comes from its primary key.
    const [count, oldest] = await Promise.all([
      db.selectFrom('outbox').select(sql<number>`COUNT(*)`.as('rows')).where('published_at', 'is', null).executeTakeFirstOrThrow(),
      db.selectFrom('outbox').select('created_at').where('published_at', 'is', null).orderBy('id').limit(1).executeTakeFirst(),
    ]);
    return {
      rows: Number(count.rows),
      oldestAgeSeconds: oldest ? Math.max(0, (now() - oldest.created_at.getTime()) / 1000) : 0,
    };
  });

  // Shared state, not per process: with several API processes the primary takes the max, not the sum.
  new Gauge({
    name: 'seckill_kafka_consumer_lag_messages',
    help: 'Messages of a topic partition a consumer group has not committed yet (end offset minus committed offset)',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      const partitions = await lag();
      this.reset();
      for (const p of partitions ?? []) this.set({ group: p.groupId, topic: p.topic, partition: String(p.partition) }, p.lag);
    },
  });

  new Gauge({
    name: 'seckill_activity_stock_units',
    help: "Units of each open activity (at most 50, latest start first) by state: redis_remaining (the gate's counter), available, locked (awaiting payment) and sold (MySQL's truth)",
    labelNames: ['activity', 'state'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      const activities = await stock();
      this.reset();
      for (const a of activities ?? []) {
        const activity = a.activityId;
        this.set({ activity, state: 'available' }, a.available);
        this.set({ activity, state: 'locked' }, a.locked);
        this.set({ activity, state: 'sold' }, a.sold);
        if (a.redisRemaining !== undefined) this.set({ activity, state: 'redis_remaining' }, a.redisRemaining);
      }
    },
  });

  const { ready } = options;
  if (ready) {
    const readiness = cached('readiness', ready);
    new Gauge({
      name: 'seckill_ready',
      help: '1 when /readyz answers 200 (Redis, MySQL and Kafka answer; background tasks run), 0 otherwise',
      registers: [registry],
      // Several API processes: the machine is ready only if every process is.
      aggregator: 'min',
      async collect() {
        this.set((await readiness()) === true ? 1 : 0);
      },
    });
  }

  new Gauge({
    name: 'seckill_outbox_backlog_rows',
    help: 'Outbox rows not yet relayed to Kafka (side effects waiting: notifications, points, dispatch)',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      const backlog = await outbox();
      // Unlabelled: no series to drop, so "unknown" is NaN rather than a reassuring 0.
      this.set(backlog ? backlog.rows : Number.NaN);
    },
  });

  new Gauge({
    name: 'seckill_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest outbox row not yet relayed (0 when none): a growing age means the relay is stuck',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      const backlog = await outbox();
      // Unlabelled: no series to drop, so "unknown" is NaN rather than a reassuring 0.
      this.set(backlog ? backlog.oldestAgeSeconds : Number.NaN);
    },
  });
}
