/**
 * Per-test isolation on the shared real services: every test gets its own MySQL database, Redis
 * key prefix and Kafka topic prefix, and `cleanup()` drops what it made.
 */
import { randomBytes } from 'node:crypto';
import { type Config, loadConfig } from '../../src/config.ts';
import {
  deleteKafkaTopics as deleteKafkaTopicsAt,
  deleteRedisPrefix as deleteRedisPrefixAt,
  dropDatabase as dropDatabaseAt,
} from '../../src/demo/cleanup.ts';

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
      // Where this test's service ran (a test may point it at the cluster topology).
      await dropDatabase(config.mysql.database);
      await deleteRedisPrefix(config.redis.prefix, env.SECKILL_REDIS_URL);
      await deleteKafkaTopics(config.kafka.topicPrefix, env.SECKILL_KAFKA_BROKERS);
    },
  };
}

/** Drops one database on the test server (throws: a test's cleanup failing is the test's failure). */
export async function dropDatabase(database: string): Promise<void> {
  const problem = await dropDatabaseAt(`${MYSQL_SERVER}/${database}`);
  if (problem) throw new Error(problem);
}

export async function deleteRedisPrefix(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const problem = await deleteRedisPrefixAt(redisUrl, prefix);
  if (problem) throw new Error(problem);
}

/** Deletes a test's topics; a broker that is down is not the test's failure. */
export async function deleteKafkaTopics(prefix: string, brokers = KAFKA_BROKERS): Promise<void> {
  const problem = await deleteKafkaTopicsAt(brokers.split(',').map((b) => b.trim()), prefix);
  if (problem) process.stderr.write(`test cleanup: could not delete Kafka topics: ${problem}\n`);
}
