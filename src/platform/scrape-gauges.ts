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
import { outboxBacklog } from '../db/repositories/outbox.ts';
import { listOpenStock } from '../db/repositories/stock.ts';
import type { Infra } from './infra.ts';
import type { ConsumerSubscription, PartitionLag } from '../kafka/client.ts';
import { remaining } from '../redis/stock.ts';
import { initLabels } from './metrics.ts';
import { within } from './timeouts.ts';

export interface ScrapeGaugeOptions {
  /** The consumer groups whose lag is reported (seckill_kafka_consumer_lag_messages). */
  subscriptions: ConsumerSubscription[];
  /** /readyz's verdict (seckill_ready); absent: the gauge is not registered. */
  ready?: () => Promise<boolean>;
  cacheMs?: number;
  timeoutMs?: number;
  maxActivities?: number;
  now?: () => number;
}

interface ActivityStock {
  activityId: string;
  name: string;
  startAtMs: number;
  endAtMs: number;
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

function sourceWithin<T>(source: string, promise: Promise<T>, ms: number): Promise<T> {
  return within(promise, ms, () => new SourceTimeout(source, ms));
}

type Deps = Pick<Infra, 'db' | 'redis' | 'keys' | 'kafka' | 'metrics' | 'log'>;

/** Registries that have the gauges already: a metric name can be registered once per registry. */
const registered = new WeakSet<object>();

export function registerScrapeGauges(infra: Deps, options: ScrapeGaugeOptions): void {
  const { db, redis, keys, kafka } = infra;
  const { registry } = infra.metrics;
  // A second ops plugin over the same metrics (a test serving a copy of the infra) keeps the first set.
  if (registered.has(registry)) return;
  registered.add(registry);
  const cacheMs = options.cacheMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxActivities = options.maxActivities ?? 50;
  const now = options.now ?? Date.now;
  const { subscriptions } = options;

  const failures = new Counter({
    name: 'seckill_scrape_source_failures_total',
    help: 'Scrape-time sources (kafka_lag, stock, outbox, readiness) that failed or timed out; their series are missing from that scrape (seckill_ready reads 0)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  // At 0 from the start, so the alert's increase() sees the first failure (see KNOWN_LABELS).
  initLabels(failures, 'source', ['kafka_lag', 'stock', 'outbox', ...(options.ready ? ['readiness'] : [])]);

  /** One read per cacheMs, shared by concurrent scrapes; undefined when the source failed. */
  function cached<T>(source: string, load: () => Promise<T>): () => Promise<T | undefined> {
    let value: T | undefined;
    let readAt = Number.NEGATIVE_INFINITY;
    let reading: Promise<T | undefined> | undefined;
    return () => {
      if (now() - readAt < cacheMs) return Promise.resolve(value);
      reading ??= sourceWithin(source, load(), timeoutMs)
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
    const rows = await listOpenStock(db, new Date(now()), maxActivities);
    // One GET per activity; auto-pipelining sends them together.
    const left = await Promise.all(rows.map((r) => remaining(redis, keys, r.activityId)));
    return rows.map((r, i) => ({
      activityId: r.activityId,
      name: r.name,
      startAtMs: r.startAt.getTime(),
      endAtMs: r.endAt.getTime(),
      available: r.available,
      locked: r.locked,
      sold: r.sold,
      redisRemaining: left[i],
    }));
  });

  const outbox = cached('outbox', async (): Promise<OutboxBacklog> => {
    const { rows, oldestCreatedAt } = await outboxBacklog(db);
    return { rows, oldestAgeSeconds: oldestCreatedAt ? Math.max(0, (now() - oldestCreatedAt.getTime()) / 1000) : 0 };
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

  // The activity's name and sale window beside its stock, from the same read: the dashboard's
  // activity picker shows names (the stock gauge carries bare ids), and its sale start/end
  // annotations take their times from the two timestamp gauges. Same activities, same bound.
  new Gauge({
    name: 'seckill_activity_info',
    help: 'Always 1; its labels name each activity reported in seckill_activity_stock_units (join on activity)',
    labelNames: ['activity', 'name'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      const activities = await stock();
      this.reset();
      for (const a of activities ?? []) this.set({ activity: a.activityId, name: a.name }, 1);
    },
  });
  const windowGauge = ({ name, help, at }: { name: string; help: string; at: (a: ActivityStock) => number }) =>
    new Gauge({
      name,
      help,
      labelNames: ['activity'] as const,
      registers: [registry],
      aggregator: 'max',
      async collect() {
        const activities = await stock();
        this.reset();
        for (const a of activities ?? []) this.set({ activity: a.activityId }, at(a) / 1000);
      },
    });
  windowGauge({
    name: 'seckill_activity_start_time_seconds',
    help: 'When each activity reported in seckill_activity_stock_units opens its sale (startAt), in Unix seconds',
    at: (a) => a.startAtMs,
  });
  windowGauge({
    name: 'seckill_activity_end_time_seconds',
    help: 'When each activity reported in seckill_activity_stock_units closes its sale (endAt), in Unix seconds',
    at: (a) => a.endAtMs,
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
