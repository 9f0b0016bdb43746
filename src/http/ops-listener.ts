/**
 * The ops listener: /metrics (stock per activity, refunds owed in cents), /docs and the admin API
 * with its console are for the operators, not for the buyers' port. With SECKILL_OPS_PORT set they
 * are served on a second address only, and the public port answers them 404 exactly like a route
 * that does not exist. Both addresses feed the one Fastify instance (`app.routing`), so hooks,
 * metrics, the error mapping and the drain on close are the same; only the route split differs.
 * /healthz, /readyz and the page assets answer on both (load balancers and the pages need them).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { noRoute } from './errors.ts';

/** Marks a request that came in on the ops address. */
const VIA_OPS = Symbol('seckill.viaOps');
type Marked = IncomingMessage & { [VIA_OPS]?: true };

/** Routes (Fastify's route patterns) that belong to the operators. */
export function isOpsRoute(route: string): boolean {
  return route === '/metrics' || route === '/docs' || route.startsWith('/docs/') || route === '/admin' || route.startsWith('/api/v1/admin/');
}
const BOTH = new Set(['/healthz', '/readyz']);
const isShared = (route: string) => BOTH.has(route) || route.startsWith('/assets/') || route === '/favicon.ico';

/**
 * Answers 404 for what the address a request came in on does not serve: ops routes on the public
 * port, buyer routes on the ops port. Registered first, so nothing else (auth included) runs.
 */
export function splitRoutesByListener(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || isShared(route)) return;
    const viaOps = (request.raw as Marked)[VIA_OPS] === true;
    if (isOpsRoute(route) !== viaOps) {
      request.errorCode = 'NOT_FOUND';
      return reply.status(404).send(noRoute(request));
    }
  });
}

export interface OpsListener {
  url: string;
  close(): Promise<void>;
}

/** Listens on the ops address and hands every request to `app`, marked as having come in there. */
export async function listenOps(app: FastifyInstance, port: number, host: string): Promise<OpsListener> {
  const server: Server = createServer((req, res) => {
    (req as Marked)[VIA_OPS] = true;
    app.routing(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Like the public server's forceCloseConnections: 'idle'; busy ones are told `Connection: close`.
        server.closeIdleConnections();
      }),
  };
}
