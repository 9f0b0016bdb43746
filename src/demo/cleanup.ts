/**
 * Drops what one deployment (a demo run, a benchmark, a test) created: its database, its Redis
 * keys, its Kafka topics. Each step reports its problem instead of throwing, so one unreachable
 * service does not leave the others uncleaned.
 */
import { Admin } from '@platformatic/kafka';
import { createConnection } from 'mysql2/promise';
import type { RedisClient } from '../redis/client.ts';
import { closeRedis, connectRedis, scanEach, unlinkEach } from './redis-nodes.ts';
import type { ServiceEnv } from './service.ts';

const problem = (what: string, error: unknown) => `${what}: ${error instanceof Error ? error.message : String(error)}`;

/** Drops the database named in a `mysql://…/<database>` URL. */
export async function dropDatabase(mysqlUrl: string): Promise<string | undefined> {
  const url = new URL(mysqlUrl);
  const database = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/';
  try {
    const conn = await createConnection({ uri: url.toString() });
    await conn.query(`DROP DATABASE IF EXISTS \`${database.replace(/`/g, '')}\``);
    await conn.end();
    return undefined;
  } catch (error) {
    return problem(`database ${database}`, error);
  }
}

/** Deletes every `<prefix>:…` key; `redisUrl` may list a cluster's nodes (each master is scanned). */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<string | undefined> {
  let redis: RedisClient | undefined;
  try {
    redis = await connectRedis(redisUrl);
    await scanEach(redis, `${prefix}:*`, unlinkEach);
    return undefined;
  } catch (error) {
    return problem(`redis ${prefix}`, error);
  } finally {
    if (redis) await closeRedis(redis);
  }
}

/** Deletes every topic named `<prefix>.…`. */
export async function deleteKafkaTopics(brokers: string[], prefix: string): Promise<string | undefined> {
  const admin = new Admin({ clientId: 'seckill-cleanup', bootstrapBrokers: brokers, timeout: 5000, retries: 1 });
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    return undefined;
  } catch (error) {
    return problem(`kafka ${prefix}.*`, error);
  } finally {
    await admin.close().catch(() => {});
  }
}

export async function dropDemoData(opts: { mysqlUrl: string; redisUrl: string; redisPrefix: string; brokers: string[]; topicPrefix: string }): Promise<string[]> {
  const problems = [
    await dropDatabase(opts.mysqlUrl),
    await deleteRedisPrefix(opts.redisUrl, opts.redisPrefix),
    opts.brokers.length > 0 ? await deleteKafkaTopics(opts.brokers, opts.topicPrefix) : undefined,
  ];
  return problems.filter((p): p is string => p !== undefined);
}

/** dropDemoData for a service started by src/demo/service.ts. */
export function dropServiceData(service: ServiceEnv): Promise<string[]> {
  return dropDemoData({
    mysqlUrl: service.mysqlUrl,
    redisUrl: service.redisUrl,
    redisPrefix: service.redisPrefix,
    brokers: (service.env['SECKILL_KAFKA_BROKERS'] ?? '').split(',').filter(Boolean),
    topicPrefix: service.topicPrefix,
  });
}
