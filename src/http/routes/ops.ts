import type { FastifyPluginAsync } from 'fastify';
import type { Topics } from '../../kafka/topics.ts';
import { EVENT_HANDLER_NAMES } from '../../lifecycle/events/handlers.ts';
import { scrapeMetrics } from '../../platform/cluster-metrics.ts';
import { checkDependencies, type Infra } from '../../platform/infra.ts';
import { registerScrapeGauges } from '../../platform/scrape-gauges.ts';
import { errors, NotReady, Ok, PlainText, Ready } from '../response-schemas.ts';

/** The consumer groups of this deployment and the topic each reads: the order worker's and one per side effect. */
function consumerSubscriptions(topics: Topics) {
  return [
    { groupId: topics.orderWorkerGroup, topic: topics.orders },
    ...EVENT_HANDLER_NAMES.map((name) => ({ groupId: topics.eventGroup(name), topic: topics.events })),
  ];
}

/**
 * /healthz (alive), /readyz (Redis, MySQL and Kafka really answer, and this process's background
 * tasks — the order consumer above all — are doing their job), /metrics (Prometheus).
 */
export function opsRoutes(infra: Infra, notReadyTasks: () => string[] = () => []): FastifyPluginAsync {
  async function readiness() {
    const checks = await checkDependencies(infra);
    const down = [
      ...Object.entries(checks)
        .filter(([, state]) => state === 'down')
        .map(([name]) => name),
      ...notReadyTasks(),
    ];
    return { checks, down };
  }

  // Lag, stock, outbox backlog and readiness are computed when scraped (cached, bounded): see
  // scrape-gauges.ts. Readiness is /readyz's own verdict, so an alert needs no blackbox prober.
  registerScrapeGauges(infra, {
    subscriptions: consumerSubscriptions(infra.kafka.topics),
    ready: async () => (await readiness()).down.length === 0,
  });

  return async (app) => {
    const tags = ['operations'];
    const healthDoc = { tags, operationId: 'getHealth', summary: 'Is the process alive?', response: { 200: { ...Ok, description: 'The process is alive.' }, ...errors() } };
    app.get('/healthz', { schema: healthDoc }, async () => ({ ok: true as const }));

    const readyDoc = {
      tags,
      operationId: 'getReadiness',
      summary: 'Can this process serve traffic?',
      description: 'Redis, MySQL and Kafka answer and the background tasks run; 503 NOT_READY otherwise.',
      response: { ...errors(), 200: { ...Ready, description: 'Ready: every dependency answers.' }, 503: NotReady },
    };
    app.get('/readyz', { schema: readyDoc }, async (request, reply) => {
      const { checks, down } = await readiness();
      if (down.length === 0) return { ok: true, checks };
      request.errorCode = 'NOT_READY';
      return reply.status(503).send({ error: { code: 'NOT_READY', message: `unreachable: ${down.join(', ')}` }, checks });
    });

    const metricsDoc = { tags, operationId: 'getMetrics', summary: 'Prometheus metrics', response: { 200: PlainText('Prometheus text format'), ...errors() } };
    app.get('/metrics', { schema: metricsDoc }, async (_request, reply) => {
      reply.header('Content-Type', infra.metrics.registry.contentType);
      return scrapeMetrics(infra.metrics.registry);
    });
  };
}
