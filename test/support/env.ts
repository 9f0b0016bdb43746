/**
 * Per-test isolation on the shared real services: every test gets its own MySQL database, Redis
 * key prefix and Kafka topic prefix, and `cleanup()` drops what it made.
 */
import { randomBytes } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { type Config, loadConfig } from '../../src/config.ts';

export const MYSQL_SERVER = process.env.SECKILL_TEST_MYSQL_SERVER ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.SECKILL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const KAFKA_BROKERS = process.env.SECKILL_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';

export const TEST_SECRETS = {
  SECKILL_JWT_SECRET: 'test-jwt-secret-0123456789',
  SECKILL_ADMIN_TOKEN: 'test-admin-token-0123456789',
  SECKILL_PAYMENT_SECRET: 'test-payment-secret-0123456789',
};

export interface TestEnv {
  /** Unique name: the database, the Redis prefix and the Kafka topic prefix all derive from it. */
  id: string;
  env: Record<string, string>;
  config: Config;
  cleanup(): Promise<void>;
}

export function uniqueId(label = 't'): string {
  return `${label}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A config pointing at a fresh database, Redis prefix and topic prefix; `overrides` are env vars. */
export function testEnv(overrides: Record<string, string> = {}, label = 't'): TestEnv {
  const id = uniqueId(label);
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    SECKILL_MYSQL_URL: `${MYSQL_SERVER}/sk_${id}`,
    SECKILL_REDIS_URL: REDIS_URL,
    SECKILL_REDIS_PREFIX: `skt_${id}`,
    SECKILL_KAFKA_BROKERS: KAFKA_BROKERS,
    SECKILL_KAFKA_TOPIC_PREFIX: `skt_${id}`,
    SECKILL_LOG_LEVEL: process.env.SECKILL_TEST_LOG_LEVEL ?? 'warn',
    SECKILL_RATE_USER_PER_SEC: '0',
    ...TEST_SECRETS,
    ...overrides,
  };
  const config = loadConfig(env);
  return {
    id,
    env,
    config,
    async cleanup() {
      await dropDatabase(config.mysql.database);
      await deleteRedisPrefix(config.redis.prefix);
      await deleteKafkaTopics(config.kafka.topicPrefix);
    },
  };
}

export async function dropDatabase(database: string): Promise<void> {
  const conn = await createConnection({ uri: MYSQL_SERVER });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Deletes every topic named `<prefix>.…` (a test's topics); a broker that is down is not the test's failure. */
export async function deleteKafkaTopics(prefix: string): Promise<void> {
  const admin = new Admin({
    clientId: 'seckill-test-cleanup',
    bootstrapBrokers: KAFKA_BROKERS.split(',').map((b) => b.trim()),
    timeout: 5000,
    retries: 1,
  });
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (error) {
    process.stderr.write(`test cleanup: could not delete Kafka topics ${prefix}.*: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    await admin.close().catch(() => {});
  }
}
