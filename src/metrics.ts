/**
 * Prometheus metrics, one registry per app instance (tests run several apps in one process).
 * Everything the dashboard and the benchmarks read about the purchase path is counted here.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'seckill_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    purchases: new Counter({
      name: 'seckill_purchase_total',
      help: 'Purchase attempts by outcome (RESERVED, SOLD_OUT, LIMIT_EXCEEDED, BUSY, ...)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    ordersPersisted: new Counter({
      name: 'seckill_orders_persisted_total',
      help: 'Orders written to MySQL by the order worker, by resulting status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    ordersDeadLettered: new Counter({
      name: 'seckill_orders_dead_lettered_total',
      help: 'Order messages sent to the dead-letter topic after bounded retries',
      registers: [registry],
    }),
    workerBatchSize: new Histogram({
      name: 'seckill_worker_batch_size',
      help: 'Orders per worker batch',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'seckill_purchase_inflight',
      help: 'Purchase requests being handled by this instance',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
