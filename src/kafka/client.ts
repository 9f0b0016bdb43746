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
import { setTimeout as sleep } from 'node:timers/promises';
import { createTopics, TOPIC_PARTITIONS, type Topics } from './topics.ts';

const CLOSE_TIMEOUT_MS = 3000;

export type StringProducer = Producer<string, string, string, string>;
export type StringConsumer = Consumer<string, string, string, string>;
export type StringStream = MessagesStream<string, string, string, string>;

export interface KafkaOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
  /** Background consumer errors (a failed rejoin after a rebalance): reported, never thrown. */
  onError?: (error: unknown, groupId: string) => void;
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
      // A consumer emits 'error' when a background rejoin fails (a rebalance racing a close, a
      // broker restart); with no listener Node would turn that into an uncaught exception and
      // take the whole process down. The consumer rejoins by itself; we only report it.
      consumer.on('error', (error: unknown) => options.onError?.(error, groupId));
      consumers.add(consumer);
      consumer.once('client:close', () => consumers.delete(consumer));
      return consumer;
    },
    async close() {
      // A consumer closed during a rebalance (another member just left) can wait for it forever;
      // its uncommitted messages are redelivered anyway, so shutdown does not wait past the bound.
      await Promise.race([Promise.allSettled([...consumers].map((c) => c.close(true))), sleep(CLOSE_TIMEOUT_MS)]);
      await producer.close().catch(() => {});
    },
  };
}

/**
 * Flattens an error, its causes and its nested `errors` into one line: Kafka client errors nest
 * the broker's own reason ("Topic already exists") two or more levels down.
 */
export function describe(error: unknown, depth = 0): string {
  if (depth > 6 || error === undefined || error === null) return '';
  if (!(error instanceof Error)) return String(error);
  const nested = (error as Error & { errors?: unknown[] }).errors;
  const parts = [
    error.message,
    ...(Array.isArray(nested) ? nested.map((e) => describe(e, depth + 1)) : []),
    describe(error.cause, depth + 1),
  ];
  return parts.filter(Boolean).join(': ');
}
