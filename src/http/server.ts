/**
 * Builds the Fastify instance: logging, metrics, error mapping, then the route plugins handed in
 * by the composition root (src/app.ts), so this file knows nothing about the business.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { Infra } from '../infra.ts';
import { registerErrorHandling } from './errors.ts';

export function buildServer(infra: Infra, routes: FastifyPluginAsync[]): FastifyInstance {
  const app = Fastify({
    loggerInstance: infra.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request logs would cost more than the purchase itself; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: infra.config.rate.trustProxy,
    bodyLimit: 64 * 1024,
    // On close, idle keep-alive sockets are dropped at once; requests in flight still complete.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: true, coerceTypes: false, allErrors: false } },
  });
  registerErrorHandling(app);
  app.decorateRequest('userId', '');

  const { httpDuration } = infra.metrics;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // 'idle' only drops sockets idle when close starts; a keep-alive socket busy at that moment
  // would stay open after its response and hold the drain forever. Tell such clients to go.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  for (const plugin of routes) app.register(plugin);
  return app;
}
