/**
 * Publishes reservations to `<prefix>.orders`, keyed by activity id so one activity's orders land
 * on one partition and the worker can persist them in one transaction per batch.
 *
 * Concurrent purchases are micro-batched: every message queued in the same event-loop turn goes
 * out in one produce request (acks=all), so under a crowd the broker sees a few large requests
 * instead of thousands of tiny ones. Each caller still learns its own message's fate.
 */
import type { ReservationMessage } from '../domain/order.ts';
import type { StringProducer } from './client.ts';

export type PublishOutcome = 'published' | 'failed' | 'unknown';

const MAX_BATCH = 1000;

interface Pending {
  message: ReservationMessage;
  resolve(outcome: PublishOutcome): void;
}

export interface OrderPublisher {
  /**
   * 'published': acknowledged by all in-sync replicas. 'failed': definitely not written — the
   * caller releases the reservation. 'unknown': no answer within the timeout — the caller answers
   * 202 and leaves the decision to the worker and reconciliation.
   */
  publish(message: ReservationMessage): Promise<PublishOutcome>;
}

export function createOrderPublisher(producer: StringProducer, topic: string, timeoutMs = 3000): OrderPublisher {
  let queue: Pending[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      send(batch);
    }
  }

  function send(batch: Pending[]): void {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      for (const p of batch) p.resolve('unknown');
    }, timeoutMs);
    producer
      .send({
        messages: batch.map(({ message }) => ({ topic, key: message.activityId, value: JSON.stringify(message) })),
      })
      .then(
        () => 'published' as const,
        () => 'failed' as const,
      )
      .then((outcome) => {
        clearTimeout(timer);
        if (!settled) for (const p of batch) p.resolve(outcome);
      });
  }

  return {
    publish(message) {
      return new Promise((resolve) => {
        queue.push({ message, resolve });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
