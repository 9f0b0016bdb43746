/**
 * The Kafka clients of the process: one idempotent producer (acks=all, so an acknowledged
 * reservation survives a broker crash and a retried send is not written twice) and one admin
 * client for topics and readiness. Consumers are created by the workers that own them.
 */
import {
  Admin,
  Consumer,
  type Message,
  type MessagesStream,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { within } from '../platform/timeouts.ts';
import { createTopics, replicationFor, type TopicName, topicPartitions, type Topics } from './topics.ts';

const CLOSE_TIMEOUT_MS = 3000;

export type StringProducer = Producer<string, string, string, string>;
export type StringConsumer = Consumer<string, string, string, string>;
export type StringStream = MessagesStream<string, string, string, string>;
export type StringMessage = Message<string, string, string, string>;

export interface KafkaOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
  /** Background consumer errors (a failed rejoin after a rebalance): reported, never thrown. */
  onError?: (error: unknown, groupId: string) => void;
  /** Partitions of the orders topic [12]; an existing, smaller orders topic is grown to it. */
  orderPartitions?: number;
  /** Replicas of new topics [min(3, brokers)]. */
  replicationFactor?: number;
  /** min.insync.replicas of new topics [min(2, replication factor)]. */
  minInsyncReplicas?: number;
}

export interface Kafka {
  topics: Topics;
  producer: StringProducer;
  /**
   * Creates the project's topics if missing, with the configured partitions, replication factor and
   * min.insync.replicas, and grows the orders topic's partitions to the configured count (never
   * shrinks). Idempotent; safe when instances start together.
   */
  ensureTopics(): Promise<void>;
  /** Throws unless a broker answers a metadata request within the timeout. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Messages of `topic` the consumer group has not committed yet (end offset minus committed
   * offset, over every partition; a partition never committed counts from its start).
   */
  groupLag(groupId: string, topic: string): Promise<number>;
  /**
   * Where the group stands on `topic`, per partition: `end`, the offset the next message will get,
   * and `committed`, the group's committed offset (a partition never committed: its start). Every
   * message written before a call has an offset below that call's `end`s: once `committed` reaches
   * them, the group has consumed all of it, whatever was written since.
   */
  groupOffsets(groupId: string, topic: string): Promise<PartitionOffsets[]>;
  /**
   * The same per partition, for several groups at once (one admin connection): the consumer-lag
   * gauge, computed when /metrics is scraped.
   */
  consumerLag(subscriptions: ConsumerSubscription[], timeoutMs?: number): Promise<PartitionLag[]>;
  createConsumer(groupId: string, overrides?: Partial<ConstructorParameters<typeof Consumer>[0]>): StringConsumer;
  close(): Promise<void>;
}

export interface ConsumerSubscription {
  groupId: string;
  topic: string;
}

export interface PartitionOffsets {
  partition: number;
  end: bigint;
  committed: bigint;
}

export interface PartitionLag extends ConsumerSubscription {
  partition: number;
  /** Messages not committed yet (a partition never committed counts from its start). */
  lag: number;
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

  /**
   * One short-lived admin client, bounded as a whole: a broker that accepts the connection and
   * then answers nothing would otherwise hold the caller (readiness, reconciliation) for the
   * whole freeze, whatever the per-request timeout says.
   */
  async function withAdmin<T>(timeoutMs: number, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = new Admin({
      clientId: `${options.clientId}-admin`,
      bootstrapBrokers: options.brokers,
      timeout: timeoutMs,
      retries: 0,
    });
    try {
      return await within(fn(admin), timeoutMs, () => Object.assign(new Error('kafka metadata timed out'), { code: 'PLT_KFK_TIMEOUT' }));
    } finally {
      void within(admin.close(), CLOSE_TIMEOUT_MS, () => new Error('close timed out')).catch(() => {});
    }
  }

  async function consumerLag(subscriptions: ConsumerSubscription[], timeoutMs = 5000): Promise<PartitionLag[]> {
    return (await consumerOffsets(subscriptions, timeoutMs)).map(({ end, committed, ...rest }) => ({ ...rest, lag: end > committed ? Number(end - committed) : 0 }));
  }

  async function consumerOffsets(subscriptions: ConsumerSubscription[], timeoutMs = 5000): Promise<Array<ConsumerSubscription & PartitionOffsets>> {
    if (subscriptions.length === 0) return [];
    return withAdmin(timeoutMs, async (admin) => {
      const topicNames = [...new Set(subscriptions.map((s) => s.topic))];
      const metadata = await admin.metadata({ topics: topicNames });
      const partitionsOf = new Map(
        topicNames.map((name) => [name, Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, i) => i)]),
      );
      const offsetsAt = async (timestamp: bigint) => {
        const listed = await admin.listOffsets({
          topics: topicNames.map((name) => ({
            name,
            partitions: (partitionsOf.get(name) ?? []).map((partitionIndex) => ({ partitionIndex, timestamp })),
          })),
        });
        return new Map(listed.flatMap((t) => t.partitions.map((p) => [`${t.name}/${p.partitionIndex}`, p.offset] as const)));
      };
      const groupIds = [...new Set(subscriptions.map((s) => s.groupId))];
      const [ends, starts, groups] = await Promise.all([
        offsetsAt(-1n),
        offsetsAt(-2n),
        admin.listConsumerGroupOffsets({
          groups: groupIds.map((groupId) => ({
            groupId,
            topics: subscriptions
              .filter((s) => s.groupId === groupId)
              .map((s) => ({ name: s.topic, partitionIndexes: partitionsOf.get(s.topic) ?? [] })),
          })),
        }),
      ]);
      const committed = new Map(
        groups.flatMap((g) =>
          g.topics.flatMap((t) => t.partitions.map((p) => [`${g.groupId}/${t.name}/${p.partitionIndex}`, p.committedOffset] as const)),
        ),
      );
      return subscriptions.flatMap(({ groupId, topic }) =>
        (partitionsOf.get(topic) ?? []).map((partition) => {
          const from = committed.get(`${groupId}/${topic}/${partition}`) ?? -1n;
          return {
            groupId,
            topic,
            partition,
            end: ends.get(`${topic}/${partition}`) ?? 0n,
            committed: from >= 0n ? from : (starts.get(`${topic}/${partition}`) ?? 0n),
          };
        }),
      );
    });
  }

  return {
    topics,
    producer,
    async ensureTopics() {
      await withAdmin(10_000, async (admin) => {
        const { brokers } = await admin.metadata({ topics: [] });
        const { replicationFactor, minInsyncReplicas } = replicationFor(brokers.size, options);
        const partitionsOf = topicPartitions(options.orderPartitions);
        const existing = new Set(await admin.listTopics());
        for (const [name, partitions] of Object.entries(partitionsOf)) {
          const topic = topics[name as TopicName];
          if (existing.has(topic)) continue;
          try {
            await admin.createTopics({
              topics: [topic],
              partitions,
              replicas: replicationFactor,
              configs: [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }],
            });
          } catch (error) {
            // Another instance created it between our list and create: that is the outcome we wanted.
            if (!/already exists/i.test(describe(error))) throw error;
          }
        }
        if (existing.has(topics.orders)) await growPartitions(admin, topics.orders, partitionsOf.orders);
      });
    },
    async ping(timeoutMs = 2000) {
      await withAdmin(timeoutMs, (admin) => admin.metadata({ topics: [] }));
    },
    async groupLag(groupId, topic) {
      const partitions = await consumerLag([{ groupId, topic }]);
      return partitions.reduce((sum, p) => sum + p.lag, 0);
    },
    groupOffsets: (groupId, topic) => consumerOffsets([{ groupId, topic }]),
    consumerLag,
    createConsumer(groupId, overrides = {}) {
      const consumer: StringConsumer = new Consumer({
        clientId: `${options.clientId}-consumer`,
        groupId,
        bootstrapBrokers: options.brokers,
        deserializers: stringDeserializers,
        autocommit: false,
        // The broker's minimum: a member that died without leaving (SIGKILL) holds its
        // partitions this long before the group moves them to a live member (README, "Faults": the service process SIGKILLed).
        sessionTimeout: 6000,
        heartbeatInterval: 1000,
        rebalanceTimeout: 10_000,
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
      // A frozen broker never answers the producer's goodbye either.
      await within(producer.close(), CLOSE_TIMEOUT_MS, () => new Error('producer close timed out')).catch(() => {});
    },
  };
}

/**
 * Raises `topic` to `count` partitions if it has fewer. Safe because orders are keyed by order id:
 * no ordering spans two messages, so moving future keys to new partitions breaks nothing.
 * Two instances growing it at once: the loser's request is refused, and the count it wanted is there.
 */
async function growPartitions(admin: Admin, topic: string, count: number): Promise<void> {
  const current = async () => (await admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitionsCount ?? 0;
  if ((await current()) >= count) return;
  try {
    await admin.createPartitions({ topics: [{ name: topic, count }] });
  } catch (error) {
    if ((await current()) < count) throw error;
  }
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
