/**
 * Builds the Fastify instance: logging, metrics, error mapping, then the route plugins handed in
 * by the composition root (src/app/app.ts), so this file knows nothing about the business.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { Infra } from '../platform/infra.ts';
import { isRefusal, logAccess, REDACTED_PATHS, REQUEST_ID_HEADER, requestId, requestSerializer } from './access-log.ts';
import { registerErrorHandling } from './errors.ts';
import { splitRoutesByListener } from './ops-listener.ts';
import { BODY_LIMIT_BYTES, registerOpenApi } from './openapi.ts';

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
    bodyLimit: BODY_LIMIT_BYTES,
    // On close, idle keep-alive sockets are dropped at once; requests in flight still complete.
    forceCloseConnections: 'idle',
    // A request routed while the server drains (a connection accepted as close began) is served
    // like any other, with `Connection: close`: the clients are still open until the drain ends.
    // Fastify's own answer would be a bare 503 without an error code or Retry-After, which docs/api.md
    // never gives (fault campaign, single seed 1350241564).
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: true, coerceTypes: false, allErrors: false } },
  });
  registerErrorHandling(app);
  app.decorateRequest('userId', '');
  registerOpenApi(app);

  // Among the reply's headers, not on the raw response: one header set on the raw response sends
  // every header of every answer down Node's slower merging path in writeHead (~3 µs a request
  // in bench/purchase.ts's profiles). A hijacked reply (the admin's live stream) writes it itself.
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  if (infra.config.ops) splitRoutesByListener(app);

  const { httpDuration, httpRefusals } = infra.metrics;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    httpDuration.observe({ method: request.method, route, status: String(status) }, reply.elapsedTime / 1000);
    // An answer written without the error handler (readiness, the pages) is named by its status.
    if (isRefusal(status)) httpRefusals.inc({ route, code: request.errorCode || `HTTP_${status}` });
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
