/**
 * The live feed's counters summed over every process of every instance. A process's prom-client
 * registry only knows what that process answered; with several API processes per machine and
 * several machines behind a load balancer, the one serving the feed saw a fraction of the traffic.
 * So while an operator watches (a flag in Redis, renewed by each tick of any feed), every process
 * writes the few series the console reads to Redis once a second, and the feed sums the fresh
 * snapshots with prom-client's own aggregation (counters and histograms add up). Nobody watching
 * costs one EXISTS per process per second.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import { isWatched, markWatched, readSnapshots, removeSnapshot, writeSnapshot } from '../redis/console-metrics.ts';
import type { BackgroundTask } from './background-task.ts';
import type { Infra } from './infra.ts';
import { periodicTask } from './periodic.ts';

/** What the console shows: answers by outcome and refusals, purchase latency, the pipeline's fate. */
export const CONSOLE_SERIES = [
  'seckill_purchase_total',
  'seckill_purchase_shed_total',
  'seckill_http_refusals_total',
  'seckill_http_request_duration_seconds',
  'seckill_orders_persisted_total',
  'seckill_orders_dead_lettered_total',
] as const;

const SHARE_INTERVAL_MS = 1000;
/** A feed renews the flag every second; a closed one stops the sharing a few seconds later. */
const WATCH_TTL_MS = 5000;
/** Older snapshots belong to processes that stopped (or cannot reach Redis): left out. */
const MAX_AGE_MS = 3 * SHARE_INTERVAL_MS;

type Sharing = Pick<Infra, 'redis' | 'keys' | 'instanceId'> & { metrics: { registry: Registry } };

async function ownSeries(registry: Registry): Promise<object[]> {
  const metrics = CONSOLE_SERIES.map((name) => registry.getSingleMetric(name)).filter((m) => m !== undefined);
  return Promise.all(metrics.map((m) => m.get()));
}

/** Every process runs this (API and worker roles alike: the worker counts dead letters). */
export function consoleMetricsTask(infra: Sharing & Pick<Infra, 'log'>): BackgroundTask {
  const { redis, keys, instanceId, metrics, log } = infra;
  const task = periodicTask('console-metrics', SHARE_INTERVAL_MS, log, async () => {
    if (!(await isWatched(redis, keys))) return;
    await writeSnapshot(redis, keys, instanceId, { at: Date.now(), metrics: await ownSeries(metrics.registry) });
  });
  return {
    ...task,
    async stop() {
      await task.stop();
      await removeSnapshot(redis, keys, instanceId).catch(() => undefined);
    },
  };
}

/**
 * The console's series summed over every process that shared them in the last few seconds, this
 * one's taken now; `processes` says how many were summed. Marks the console watched, so the others
 * start sharing within a second if they were not already.
 */
export async function consoleSeries(infra: Sharing): Promise<{ text: string; processes: number }> {
  const { redis, keys, instanceId, metrics } = infra;
  const [, snapshots, own] = await Promise.all([markWatched(redis, keys, WATCH_TTL_MS), readSnapshots(redis, keys, MAX_AGE_MS), ownSeries(metrics.registry)]);
  snapshots.delete(instanceId);
  const all = [own, ...[...snapshots.values()].map((s) => s.metrics)];
  return { text: await AggregatorRegistry.aggregate(all).metrics(), processes: all.length };
}
