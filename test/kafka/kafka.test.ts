/**
 * Kafka plumbing against the real broker: ensureTopics creates the project's topics
 * (idempotently), the idempotent producer writes a keyed message, a consumer group reads it back
 * from the real topic and commits it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, type Message, MessagesStreamModes } from '@platformatic/kafka';
import { createKafka, type Kafka, type StringStream } from '../../src/kafka/client.ts';
import { TOPIC_PARTITIONS } from '../../src/kafka/topics.ts';
import { KAFKA_BROKERS, testEnv } from '../support/env.ts';

const brokers = KAFKA_BROKERS.split(',');

/** Reads from the stream until `count` messages arrived or the time is up. */
async function take(stream: StringStream, count: number, timeoutMs: number): Promise<Array<Message<string, string, string, string>>> {
  const got: Array<Message<string, string, string, string>> = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const iterator = stream[Symbol.asyncIterator]();
  try {
    while (got.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next === 'timeout' || next.done) break;
      got.push(next.value as Message<string, string, string, string>);
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

describe('kafka', () => {
  const env = testEnv({}, 'kfk');
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    kafka = createKafka({ brokers, topicPrefix: env.config.kafka.topicPrefix, clientId: `test-${env.id}` });
    admin = new Admin({ clientId: `test-${env.id}-admin`, bootstrapBrokers: brokers, timeout: 10_000 });
  });

  after(async () => {
    await kafka?.close();
    await admin?.close();
    await env.cleanup();
  });

  const topicNames = () => Object.keys(TOPIC_PARTITIONS).map((name) => kafka.topics[name as keyof typeof TOPIC_PARTITIONS]);

  /** Waits until the broker's metadata lists every project topic (it lags CreateTopics a little). */
  async function topicsListed(timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const listed = await admin.listTopics();
      if (topicNames().every((t) => listed.includes(t)) || Date.now() > deadline) return listed;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('ensureTopics creates every topic with its partitions; once they are listed, again is a no-op', async () => {
    await kafka.ensureTopics();
    const listed = await topicsListed();
    for (const topic of topicNames()) {
      assert.ok(topic.startsWith(`${env.config.kafka.topicPrefix}.`), topic);
      assert.ok(listed.includes(topic), `${topic} exists`);
    }
    const metadata = await admin.metadata({ topics: topicNames() });
    for (const [name, partitions] of Object.entries(TOPIC_PARTITIONS)) {
      const topic = kafka.topics[name as keyof typeof TOPIC_PARTITIONS];
      assert.equal(metadata.topics.get(topic)?.partitionsCount, partitions, topic);
    }
    await kafka.ensureTopics();
    await Promise.all([kafka.ensureTopics(), kafka.ensureTopics()]);
  });

  // CreateTopics' TOPIC_ALREADY_EXISTS arrives as MultipleErrors → ResponseError →
  // ProtocolError("Topic with this name already exists."): describe() must look all the way down,
  // or two instances starting together on fresh topics fail.
  test(
    'ensureTopics twice in a row, and concurrently, on fresh topics',
    async () => {
      const fresh = createKafka({ brokers, topicPrefix: `${env.config.kafka.topicPrefix}.race`, clientId: `test-${env.id}-race` });
      try {
        await Promise.all([fresh.ensureTopics(), fresh.ensureTopics()]);
        await fresh.ensureTopics();
      } finally {
        await fresh.close();
      }
    },
  );

  test('ping answers while the broker is up', async () => {
    await kafka.ping();
  });

  test('a keyed message is produced, consumed back from the real topic, and committed', async () => {
    const topic = kafka.topics.orders;
    const key = `activity-${env.id}`;
    const values = [`first-${env.id}`, `second-${env.id}`];

    const results = [];
    for (const value of values) {
      results.push(await kafka.producer.send({ messages: [{ topic, key, value, headers: { origin: 'kafka.test' } }] }));
    }
    const written = results.map((r) => r.offsets?.[0]);
    assert.ok(written[0] && written[1], JSON.stringify(results, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    // Same key → same partition, in order.
    assert.equal(written[0].partition, written[1].partition);
    assert.ok(written[1].offset > written[0].offset);
    const partition = written[0].partition;

    const groupId = `${env.config.kafka.topicPrefix}.test-group`;
    const consumer = kafka.createConsumer(groupId);
    let stream: StringStream | undefined;
    try {
      stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST });
      const got = await take(stream, values.length, 30_000);
      assert.deepEqual(
        got.map((m) => ({ topic: m.topic, partition: m.partition, key: m.key, value: m.value, origin: m.headers.get('origin') })),
        values.map((value) => ({ topic, partition, key, value, origin: 'kafka.test' })),
      );
      assert.deepEqual(
        got.map((m) => m.offset),
        written.map((w) => w!.offset),
      );

      // Committing the last message records "next offset to read" for the group.
      await got.at(-1)!.commit();
      const committed = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [partition] }] });
      // The answer is indexed by partition number.
      assert.equal(committed.get(topic)?.[partition], written[1]!.offset + 1n);
    } finally {
      await stream?.close();
      await consumer.close(true);
    }

    // A new member of the same group resumes after the commit: nothing old is redelivered.
    const third = `third-${env.id}`;
    await kafka.producer.send({ messages: [{ topic, key, value: third }] });
    const again = kafka.createConsumer(groupId);
    let resumed: StringStream | undefined;
    try {
      resumed = await again.consume({ topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: 'earliest' });
      const got = await take(resumed, 1, 30_000);
      assert.deepEqual(
        got.map((m) => m.value),
        [third],
      );
    } finally {
      await resumed?.close();
      await again.close(true);
    }
  });
});
