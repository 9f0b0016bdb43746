/**
 * The contract's floor: the service's own HTTP pipeline for the purchase route — the server of
 * src/http/server.ts (request ids, metrics, error mapping), the purchase route of
 * src/http/routes/purchase.ts with its hooks (load shedding, JWT authentication, body validation,
 * the outcome counter) — in front of a purchase that answers SOLD_OUT from memory, with no Redis
 * round trip. No answer of the real service can be cheaper than this one, so its ratio to the bare
 * Fastify route is the most any answer of the purchase path can reach while keeping what
 * docs/api.md requires of every request. Prints its URL, runs until SIGTERM.
 */
import { parseCommandLine } from '../src/cli/command-line.ts';
import { AppError } from '../src/domain/errors.ts';
import { createLoadShedder } from '../src/guard/load-shedder.ts';
import { createUserAuth } from '../src/http/auth.ts';
import { purchaseRoutes } from '../src/http/routes/purchase.ts';
import { buildServer } from '../src/http/server.ts';
import { createLogger } from '../src/platform/log.ts';
import { createMetrics } from '../src/platform/metrics.ts';
import type { Infra } from '../src/platform/infra.ts';

const { positionals } = parseCommandLine(
  {
    name: 'bench/contract-floor',
    usage: `usage: node_modules/.bin/node bench/contract-floor.ts JWT_SECRET

A baseline bench/purchase.ts starts by itself: the service's HTTP pipeline for the purchase route
(server, hooks, JWT authentication with the given secret, validation, metrics, error mapping) in
front of a purchase that answers SOLD_OUT from memory. Prints its URL, serves on 127.0.0.1 until SIGTERM.`,
  },
  { allowPositionals: true },
);
const secret = positionals[0];
if (!secret) {
  process.stderr.write('bench/contract-floor: JWT_SECRET is required\n');
  process.exit(2);
}

const log = createLogger({ logLevel: 'error', devDefaults: [] }, 'contract-floor');
const metrics = createMetrics();
// Only what buildServer reads: the logger, the metrics and two settings.
const infra = { log, metrics, config: { rate: { trustProxy: false }, ops: undefined } } as unknown as Infra;
const shedder = createLoadShedder({ maxInflight: 10_000, maxEventLoopDelayMs: 0 });
const soldOut = new AppError('SOLD_OUT', 'sold out');
const app = buildServer(infra, [
  purchaseRoutes({
    purchase: {
      purchase: async () => {
        throw soldOut;
      },
    },
    guard: { shedder, challenges: { issue: async () => Promise.reject(soldOut) } } as never,
    catalog: { require: async () => Promise.reject(soldOut) } as never,
    userAuth: createUserAuth(secret),
    metrics,
    waitingRoom: { requirePass: () => {}, recordPurchase: async () => {} },
  }),
]);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => {
  shedder.stop();
  app.close().then(() => process.exit(0));
});
