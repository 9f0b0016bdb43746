/**
 * Publishes reservations to `<prefix>.orders`, keyed by order id: one hot activity's orders spread
 * over every partition, so every worker of the group shares the sale instead of one doing all its
 * writes. Nothing needs one activity's orders in order: each carries its own order id
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
import { type Metrics, timeProduce } from '../platform/metrics.ts';
import type { StringProducer } from '../kafka/client.ts';

export type PublishOutcome = 'published' | 'failed' | 'unknown';

const MAX_BATCH = 1000;
const MAX_IN_FLIGHT = 2;

/** Broker error codes after which the messages may have been appended all the same. */
const MAYBE_APPENDED = new Set(['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION', 'UNKNOWN_SERVER_ERROR']);

/**
 * Whether a produce error proves the messages were not written. Only a connection that was never
 * made, or a request the client refused to build, does. A lost connection or a timeout does not:
 * the broker may hold the request in its socket buffer or its log (a frozen broker appends it on
 * SIGCONT; a killed one may have appended it before dying), and releasing its units would sell them
 * a second time while the message still becomes an order (README, "Faults": the broker frozen).
 */
export function surelyNotWritten(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 6) return false;
  const { code } = error as Error & { code?: unknown };
  if (code === 'ECONNREFUSED' || code === 'PLT_KFK_USER') return true;
  if (error instanceof AggregateError) return error.errors.length > 0 && error.errors.every((e) => surelyNotWritten(e, depth + 1));
  if (code === 'PLT_KFK_TIMEOUT' || /timed? ?out/i.test(error.message)) return false;
  // A broker that answered with an error code refused the request, except for the codes that
  // mean it may have appended anyway.
  if (code === 'PLT_KFK_PROTOCOL') return !MAYBE_APPENDED.has(String((error as Error & { apiId?: unknown }).apiId));
  return surelyNotWritten(error.cause, depth + 1);
}

interface Pending {
  message: ReservationMessage;
  resolve(outcome: PublishOutcome): void;
}

export interface OrderPublisher {
  /**
   * 'published': acknowledged by all in-sync replicas. 'failed': definitely not written (see
   * surelyNotWritten) — the caller releases the reservation. 'unknown': no answer within the
   * timeout, or an error that leaves the write possible — the caller answers 202, publishes again
   * (the worker drops the duplicate by order id) and leaves the rest to reconciliation.
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
        (error: unknown) => (surelyNotWritten(error) ? ('failed' as const) : ('unknown' as const)),
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
