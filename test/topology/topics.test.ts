/**
 * ensureTopics against the real (default, single-broker) Kafka: the orders topic gets
 * SECKILL_KAFKA_ORDER_PARTITIONS partitions, an existing smaller one is grown, a larger one is never
 * shrunk; a replication factor the cluster cannot give is refused naming its variable and creates
 * nothing. (Replication 3 / min ISR 2 on three brokers: test/topology/cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { ConfigError } from '../../src/config.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { KAFKA_BROKERS, testEnv } from '../support/env.ts';

const brokers = KAFKA_BROKERS.split(',');

describe('ensureTopics: partitions and replication', () => {
  const env = testEnv({}, 'tpc');
  const prefix = env.config.kafka.topicPrefix;
  let admin: Admin;

  before(() => {
    admin = new Admin({ clientId: `test-${env.id}`, bootstrapBrokers: brokers, timeout: 10_000 });
  });

  after(async () => {
    await admin?.close();
    await env.cleanup();
  });

  /** Partitions of `topic` as the broker reports them, polled a while for `expected` (metadata lags a change a little). */
  async function partitionsOf(topic: string, expected: number): Promise<number> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const count = (await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined))?.topics.get(topic)?.partitionsCount ?? 0;
      if (count === expected || Date.now() > deadline) return count;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function ensureWith(options: { orderPartitions?: number; replicationFactor?: number; minInsyncReplicas?: number }, label: string) {
    const kafka = createKafka({ brokers, topicPrefix: prefix, clientId: `test-${env.id}-${label}`, ...options });
    try {
      await kafka.ensureTopics();
      return kafka.topics;
    } finally {
      await kafka.close();
    }
  }

  test('a replication factor above the brokers is refused naming the variable, and creates nothing', async () => {
    await assert.rejects(
      () => ensureWith({ replicationFactor: brokers.length + 5 }, 'rf'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.variable, 'SECKILL_KAFKA_REPLICATION_FACTOR');
        return true;
      },
    );
    const listed = await admin.listTopics();
    assert.deepEqual(listed.filter((t) => t.startsWith(`${prefix}.`)), []);
  });

  test('the configured partitions; a smaller orders topic is grown, a larger one never shrunk', async () => {
    const topics = await ensureWith({ orderPartitions: 2 }, 'p2');
    assert.equal(await partitionsOf(topics.orders, 2), 2);
    // One broker here: the defaults fall to one replica and min.insync.replicas 1.
    const described = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topics.orders, configurationKeys: ['min.insync.replicas'] }],
    });
    assert.equal(described[0]?.configs.find((c) => c.name === 'min.insync.replicas')?.value, '1');

    await ensureWith({ orderPartitions: 5 }, 'p5');
    assert.equal(await partitionsOf(topics.orders, 5), 5);

    await ensureWith({ orderPartitions: 3 }, 'p3');
    assert.equal(await partitionsOf(topics.orders, 5), 5, 'never shrunk');

    // Two instances growing it at once both succeed.
    await Promise.all([ensureWith({ orderPartitions: 7 }, 'p7a'), ensureWith({ orderPartitions: 7 }, 'p7b')]);
    assert.equal(await partitionsOf(topics.orders, 7), 7);
  });
});
