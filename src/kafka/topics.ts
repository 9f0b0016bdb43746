import { ConfigError } from '../config.ts';

/** Topic and consumer-group names, all under SECKILL_KAFKA_TOPIC_PREFIX so deployments can share a Kafka. */
export interface Topics {
  orders: string;
  ordersDlq: string;
  events: string;
  orderWorkerGroup: string;
  eventGroup(consumer: string): string;
}

export function createTopics(prefix: string): Topics {
  return {
    orders: `${prefix}.orders`,
    ordersDlq: `${prefix}.orders.dlq`,
    events: `${prefix}.events`,
    orderWorkerGroup: `${prefix}.order-worker`,
    eventGroup: (consumer) => `${prefix}.events.${consumer}`,
  };
}

export type TopicName = keyof Omit<Topics, 'orderWorkerGroup' | 'eventGroup'>;

/**
 * Default partitions of the orders topic (SECKILL_KAFKA_ORDER_PARTITIONS). Orders are keyed by
 * order id, so one hot activity spreads over every partition and every worker of the group shares
 * it; 12 divides evenly among 1, 2, 3, 4 or 6 workers.
 */
export const DEFAULT_ORDER_PARTITIONS = 12;

/** Partitions per topic, for a given orders partition count. */
export function topicPartitions(orderPartitions = DEFAULT_ORDER_PARTITIONS): Record<TopicName, number> {
  return { orders: orderPartitions, ordersDlq: 1, events: 4 };
}

/** Partitions per topic with the default orders partition count. */
export const TOPIC_PARTITIONS: Record<TopicName, number> = topicPartitions();

export interface Replication {
  replicationFactor: number;
  /** With acks=all, a write is acknowledged once this many replicas have it. */
  minInsyncReplicas: number;
}

/**
 * The replication of new topics on a cluster that reports `brokers` live brokers: configured values
 * win; by default 3 replicas (or every broker, if fewer) and min.insync.replicas 2 (or the replica
 * count, if lower) — on 3 brokers, losing any one neither loses an acknowledged order nor stops
 * writes. A configuration the cluster cannot honour is refused naming its variable.
 */
export function replicationFor(brokers: number, configured: { replicationFactor?: number; minInsyncReplicas?: number }): Replication {
  const replicationFactor = configured.replicationFactor ?? Math.max(1, Math.min(3, brokers));
  if (replicationFactor > brokers) {
    throw new ConfigError(
      'SECKILL_KAFKA_REPLICATION_FACTOR',
      `is ${replicationFactor}, but the Kafka cluster reports ${brokers} broker${brokers === 1 ? '' : 's'}`,
    );
  }
  const minInsyncReplicas = configured.minInsyncReplicas ?? Math.min(2, replicationFactor);
  if (minInsyncReplicas > replicationFactor) {
    throw new ConfigError(
      'SECKILL_KAFKA_MIN_INSYNC_REPLICAS',
      `is ${minInsyncReplicas}, more than the replication factor ${replicationFactor}: no acks=all write could succeed`,
    );
  }
  return { replicationFactor, minInsyncReplicas };
}
