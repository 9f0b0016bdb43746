import type { FastifyPluginAsync } from 'fastify';
import { checkDependencies, type Infra } from '../../infra.ts';

/** /healthz (alive), /readyz (Redis, MySQL and Kafka really answer), /metrics (Prometheus). */
export function opsRoutes(infra: Infra): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ ok: true }));

    app.get('/readyz', async (_request, reply) => {
      const checks = await checkDependencies(infra);
      const down = Object.entries(checks)
        .filter(([, state]) => state === 'down')
        .map(([name]) => name);
      if (down.length === 0) return { ok: true, checks };
      return reply.status(503).send({ error: { code: 'NOT_READY', message: `unreachable: ${down.join(', ')}` }, checks });
    });

    app.get('/metrics', async (_request, reply) => {
      reply.header('Content-Type', infra.metrics.registry.contentType);
      return infra.metrics.registry.metrics();
    });
  };
}
