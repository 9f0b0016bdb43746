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

/** Partitions per topic: orders are keyed by activity, so one activity's orders stay in order on one partition. */
export const TOPIC_PARTITIONS: Record<keyof Omit<Topics, 'orderWorkerGroup' | 'eventGroup'>, number> = {
  orders: 8,
  ordersDlq: 1,
  events: 4,
};
