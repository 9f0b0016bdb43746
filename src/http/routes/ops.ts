import type { FastifyPluginAsync } from 'fastify';
import { scrapeMetrics } from '../../cluster-metrics.ts';
import { checkDependencies, type Infra } from '../../infra.ts';
import { registerScrapeGauges } from '../../scrape-gauges.ts';
import { errors, NotReady, Ok, PlainText, Ready } from '../response-schemas.ts';

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
  registerScrapeGauges(infra, { ready: async () => (await readiness()).down.length === 0 });

  return async (app) => {
    app.get('/healthz', { schema: { tags: ['operations'], description: 'The process is alive.', response: { 200: Ok, ...errors() } } }, async () => ({ ok: true as const }));

    const readyDoc = { tags: ['operations'], description: 'Redis, MySQL and Kafka answer and the background tasks run; 503 NOT_READY otherwise.' };
    app.get('/readyz', { schema: { ...readyDoc, response: { 200: Ready, 503: NotReady } } }, async (_request, reply) => {
      const { checks, down } = await readiness();
      if (down.length === 0) return { ok: true, checks };
      return reply.status(503).send({ error: { code: 'NOT_READY', message: `unreachable: ${down.join(', ')}` }, checks });
    });

    app.get('/metrics', { schema: { tags: ['operations'], response: { 200: PlainText('Prometheus text format'), ...errors() } } }, async (_request, reply) => {
      reply.header('Content-Type', infra.metrics.registry.contentType);
      return scrapeMetrics(infra.metrics.registry);
    });
  };
}
