/**
 * Builds the Fastify instance: logging, metrics, error mapping, then the route plugins handed in
 * by the composition root (src/app.ts), so this file knows nothing about the business.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { Infra } from '../infra.ts';
import { logAccess, REDACTED_PATHS, REQUEST_ID_HEADER, requestId, requestSerializer } from './access-log.ts';
import { registerErrorHandling } from './errors.ts';
import { registerOpenApi } from './openapi.ts';

export function buildServer(infra: Infra, routes: FastifyPluginAsync[]): FastifyInstance {
  const app = Fastify({
    loggerInstance: infra.log.child(
      { component: 'http' },
      { redact: REDACTED_PATHS, serializers: { req: requestSerializer } },
    ) as FastifyBaseLogger,
    // Fastify's two lines per request carry whole request objects; src/http/access-log.ts writes
    // one cheap flat line instead (onResponse below).
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestId,
    trustProxy: infra.config.rate.trustProxy,
    bodyLimit: 64 * 1024,
    // On close, idle keep-alive sockets are dropped at once; requests in flight still complete.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: true, coerceTypes: false, allErrors: false } },
  });
  registerErrorHandling(app);
  app.decorateRequest('userId', '');
  registerOpenApi(app);

  // On the raw response, so it is there however the reply is written (hijacked streams included).
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
  });

  const { httpDuration } = infra.metrics;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    logAccess(request, reply, route);
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
