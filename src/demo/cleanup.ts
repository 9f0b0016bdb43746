/** Drops what one demo run created: its database, its Redis keys, its Kafka topics. */
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';

export async function dropDemoData(opts: { mysqlUrl: string; redisUrl: string; redisPrefix: string; brokers: string[]; topicPrefix: string }): Promise<string[]> {
  const problems: string[] = [];
  const url = new URL(opts.mysqlUrl);
  const database = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/';
  try {
    const conn = await createConnection({ uri: url.toString() });
    await conn.query(`DROP DATABASE IF EXISTS \`${database.replace(/`/g, '')}\``);
    await conn.end();
  } catch (error) {
    problems.push(`database ${database}: ${String(error)}`);
  }
  const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${opts.redisPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch (error) {
    problems.push(`redis ${opts.redisPrefix}: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
  const admin = new Admin({ clientId: 'seckill-demo-cleanup', bootstrapBrokers: opts.brokers, timeout: 5000, retries: 1 });
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${opts.topicPrefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (error) {
    problems.push(`kafka ${opts.topicPrefix}.*: ${String(error)}`);
  } finally {
    await admin.close().catch(() => {});
  }
  return problems;
}
