/**
 * The process's connections to the outside world, each created once, owned here, and closed on
 * shutdown: MySQL (migrated at start), Redis (commands + a subscriber), Kafka (topics ensured).
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import { createDb, type Db, pingDb } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { createKafka, describe, type Kafka } from '../kafka/client.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics, scriptObserver } from './metrics.ts';
import { closeRedis, createRedis, type RedisClient } from '../redis/client.ts';
import { createKeys, type Keys } from '../redis/keys.ts';
import { observeScripts } from '../redis/scripts.ts';
import { within } from './timeouts.ts';

export interface Infra {
  config: Config;
  log: Logger;
  /** Unique per process: names the Kafka client, the Snowflake lease, the pub/sub origin. */
  instanceId: string;
  db: Db;
  redis: RedisClient;
  /** Subscriber connection (pub/sub only). */
  redisSub: RedisClient;
  keys: Keys;
  kafka: Kafka;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function createInfra(config: Config, log: Logger): Promise<Infra> {
  const instanceId = randomUUID();
  const applied = await migrate(config.mysql.url);
  if (applied.length > 0) log.info({ applied }, 'database migrated');
  const { db } = createDb(config.mysql.url);
  const redis = createRedis(config.redis);
  const redisSub = createRedis({ ...config.redis, subscriber: true });
  const metrics = createMetrics();
  observeScripts(redis, scriptObserver(metrics));
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    topicPrefix: config.kafka.topicPrefix,
    orderPartitions: config.kafka.orderPartitions,
    replicationFactor: config.kafka.replicationFactor,
    minInsyncReplicas: config.kafka.minInsyncReplicas,
    clientId: `seckill-${instanceId.slice(0, 8)}`,
    onError: (error, groupId) => log.warn({ err: describe(error), groupId }, 'kafka consumer error'),
  });
  try {
    await kafka.ensureTopics();
  } catch (error) {
    await Promise.allSettled([kafka.close(), closeRedis(redis), closeRedis(redisSub), db.destroy()]);
    throw error;
  }
  return {
    config,
    log,
    instanceId,
    db,
    redis,
    redisSub,
    keys: createKeys(config.redis.prefix),
    kafka,
    metrics,
    async close() {
      await Promise.allSettled([kafka.close(), closeRedis(redis), closeRedis(redisSub)]);
      await db.destroy();
    },
  };
}

export type Dependency = 'redis' | 'mysql' | 'kafka';

/** Really talks to each dependency; the result names the ones that did not answer. */
export async function checkDependencies(infra: Infra, timeoutMs = 2000): Promise<Record<Dependency, 'up' | 'down'>> {
  const bounded = <T>(p: Promise<T>) => within(p, timeoutMs, () => new Error('timeout'));
  const [redis, mysql, kafka] = await Promise.allSettled([
    bounded(infra.redis.ping()),
    bounded(pingDb(infra.db)),
    infra.kafka.ping(timeoutMs),
  ]);
  const state = (r: PromiseSettledResult<unknown>) => (r.status === 'fulfilled' ? 'up' : 'down');
  return { redis: state(redis), mysql: state(mysql), kafka: state(kafka) };
}
