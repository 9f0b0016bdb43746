/**
 * The Kafka clients of the process: one idempotent producer (acks=all, so an acknowledged
 * reservation survives a broker crash and a retried send is not written twice) and one admin
 * client for topics and readiness. Consumers are created by the workers that own them.
 */
import {
  Admin,
  Consumer,
  type MessagesStream,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { createTopics, TOPIC_PARTITIONS, type Topics } from './topics.ts';

export type StringProducer = Producer<string, string, string, string>;
export type StringConsumer = Consumer<string, string, string, string>;
export type StringStream = MessagesStream<string, string, string, string>;

export interface KafkaOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
}

export interface Kafka {
  topics: Topics;
  producer: StringProducer;
  /** Creates the project's topics if missing (idempotent; safe when instances start together). */
  ensureTopics(): Promise<void>;
  /** Throws unless a broker answers a metadata request within the timeout. */
  ping(timeoutMs?: number): Promise<void>;
  createConsumer(groupId: string, overrides?: Partial<ConstructorParameters<typeof Consumer>[0]>): StringConsumer;
  close(): Promise<void>;
}

export function createKafka(options: KafkaOptions): Kafka {
  const topics = createTopics(options.topicPrefix);
  const producer: StringProducer = new Producer({
    clientId: `${options.clientId}-producer`,
    bootstrapBrokers: options.brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    timeout: 5000,
    retries: 3,
    retryDelay: 100,
    autocreateTopics: false,
  });
  const consumers = new Set<StringConsumer>();

  async function withAdmin<T>(timeoutMs: number, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = new Admin({
      clientId: `${options.clientId}-admin`,
      bootstrapBrokers: options.brokers,
      timeout: timeoutMs,
      retries: 0,
    });
    try {
      return await fn(admin);
    } finally {
      await admin.close().catch(() => {});
    }
  }

  return {
    topics,
    producer,
    async ensureTopics() {
      await withAdmin(10_000, async (admin) => {
        const existing = new Set(await admin.listTopics());
        for (const [name, partitions] of Object.entries(TOPIC_PARTITIONS)) {
          const topic = topics[name as keyof typeof TOPIC_PARTITIONS];
          if (existing.has(topic)) continue;
          try {
            await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
          } catch (error) {
            // Another instance created it between our list and create: that is the outcome we wanted.
            if (!/already exists/i.test(describe(error))) throw error;
          }
        }
      });
    },
    async ping(timeoutMs = 2000) {
      await withAdmin(timeoutMs, (admin) =>
        Promise.race([
          admin.metadata({ topics: [] }),
          new Promise((_, reject) => setTimeout(() => reject(new Error('kafka metadata timed out')), timeoutMs).unref()),
        ]),
      );
    },
    createConsumer(groupId, overrides = {}) {
      const consumer: StringConsumer = new Consumer({
        clientId: `${options.clientId}-consumer`,
        groupId,
        bootstrapBrokers: options.brokers,
        deserializers: stringDeserializers,
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 1000,
        rebalanceTimeout: 15_000,
        maxWaitTime: 200,
        ...overrides,
      } as ConstructorParameters<typeof Consumer>[0]) as StringConsumer;
      consumers.add(consumer);
      consumer.once('client:close', () => consumers.delete(consumer));
      return consumer;
    },
    async close() {
      await Promise.allSettled([...consumers].map((c) => c.close(true)));
      await producer.close().catch(() => {});
    },
  };
}

/** Flattens an error and its causes into one line (Kafka errors nest the broker's reason). */
export function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message);
      const nested = (current as Error & { errors?: unknown[] }).errors;
      if (Array.isArray(nested)) parts.push(...nested.map((e) => (e instanceof Error ? e.message : String(e))));
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
}
