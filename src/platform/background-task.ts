/**
 * What the process runs beside the HTTP server (worker role): the order worker, the reaper, the
 * relays and consumers. The composition root starts them in order and stops them in reverse;
 * readiness asks each whether it is doing its job.
 */
export interface BackgroundTask {
  name: string;
  start(): Promise<void>;
  /** Finishes the work in hand (no half-written batch) and resolves when stopped. */
  stop(): Promise<void>;
  /** False while the task cannot do its job (e.g. its Kafka consumer is not joined): /readyz says 503. */
  ready?(): boolean;
}
