/**
 * Publishes reservations to `<prefix>.orders`, keyed by order id: one hot activity's orders spread
 * over every partition, so every worker of the group shares the sale instead of one doing all its
 * writes (issue 11). Nothing needs one activity's orders in order: each carries its own order id
 * and request id, and the worker still groups whatever batch it gets by activity (one MySQL
 * transaction per activity per batch).
 *
 * Concurrent purchases are micro-batched: at most MAX_IN_FLIGHT produce requests (acks=all) are
 * outstanding; whatever arrives meanwhile waits and leaves as one request when a slot frees. An
 * idle publisher sends at the next event-loop turn, so a lone buyer waits for nobody, while a crowd
 * makes a few large requests instead of thousands of tiny ones (each a socket write on both ends).
 * Each caller still learns its own message's fate.
 */
import type { ReservationMessage } from '../domain/order.ts';
import { type Metrics, timeProduce } from '../metrics.ts';
import type { StringProducer } from './client.ts';

export type PublishOutcome = 'published' | 'failed' | 'unknown';

const MAX_BATCH = 1000;
const MAX_IN_FLIGHT = 2;

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

export interface OrderPublisherOptions {
  /** After this long without an answer a publish is 'unknown' [3000]. */
  timeoutMs?: number;
  metrics?: Pick<Metrics, 'kafkaProduceDuration'>;
}

export function createOrderPublisher(producer: StringProducer, topic: string, options: OrderPublisherOptions = {}): OrderPublisher {
  const timeoutMs = options.timeoutMs ?? 3000;
  let queue: Pending[] = [];
  let scheduled = false;
  let inFlight = 0;

  function flush(): void {
    scheduled = false;
    while (queue.length > 0 && inFlight < MAX_IN_FLIGHT) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      send(batch);
    }
  }

  function schedule(): void {
    if (!scheduled && queue.length > 0) {
      scheduled = true;
      setImmediate(flush);
    }
  }

  function send(batch: Pending[]): void {
    inFlight++;
    let settled = false;
    // Settles the batch's callers once, and frees the slot: a produce that hangs (broker gone)
    // must not hold back the messages queued behind it beyond the timeout.
    const settle = (outcome: PublishOutcome) => {
      if (settled) return;
      settled = true;
      inFlight--;
      for (const p of batch) p.resolve(outcome);
      schedule();
    };
    const timer = setTimeout(() => settle('unknown'), timeoutMs);
    timeProduce(options.metrics, 'orders', () =>
      producer.send({
        messages: batch.map(({ message }) => ({ topic, key: message.orderId, value: JSON.stringify(message) })),
      }),
    )
      .then(
        () => 'published' as const,
        () => 'failed' as const,
      )
      .then((outcome) => {
        clearTimeout(timer);
        settle(outcome);
      });
  }

  return {
    publish(message) {
      return new Promise((resolve) => {
        queue.push({ message, resolve });
        schedule();
      });
    },
  };
}
