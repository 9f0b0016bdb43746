/**
 * Composition root: infrastructure → services → HTTP routes and background workers, in that
 * order, and the reverse on shutdown (stop accepting, drain requests, stop workers, close clients).
 * Nothing imports this folder but the process entry points (src/cli/serve.ts) and the tests.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.ts';
import { activityRoutes } from '../http/routes/activities.ts';
import { adminRoutes } from '../http/routes/admin.ts';
import { devTokenRoutes } from '../http/routes/dev-tokens.ts';
import { opsRoutes } from '../http/routes/ops.ts';
import { orderRoutes } from '../http/routes/orders.ts';
import { paymentCallbackRoutes } from '../http/routes/payment-callback.ts';
import { purchaseRoutes } from '../http/routes/purchase.ts';
import { queueRoutes } from '../http/routes/queue.ts';
import { waitlistRoutes } from '../http/routes/waitlist.ts';
import { webRoutes } from '../http/routes/web.ts';
import { wsRoutes } from '../http/routes/ws.ts';
import { listenOps, type OpsListener } from '../http/ops-listener.ts';
import { buildServer } from '../http/server.ts';
import type { BackgroundTask } from '../platform/background-task.ts';
import { consoleMetricsTask, consoleSeries } from '../platform/console-metrics.ts';
import { createInfra, type Infra } from '../platform/infra.ts';
import { createLogger, type Logger } from '../platform/log.ts';
import { createServices, type Services } from './services.ts';
import { createBackgroundTasks } from './tasks.ts';

export interface App {
  infra: Infra;
  services: Services;
  server: FastifyInstance | undefined;
  /** Base URL once listening (api role only). */
  url: string | undefined;
  /** Base URL of the ops listener (SECKILL_OPS_PORT set, api role only). */
  opsUrl: string | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Listen on this port instead of config.port (0 = any free port; tests). */
  port?: number;
  /** The ops listener on this port instead of config.ops.port (only when config.ops is set). */
  opsPort?: number;
}

export async function startApp(config: Config, options: StartOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config);
  const infra = await createInfra(config, log);
  let services: Services;
  try {
    services = await createServices(infra);
  } catch (error) {
    await infra.close();
    throw error;
  }

  const tasks: BackgroundTask[] = config.roles.includes('worker') ? createBackgroundTasks(infra, services) : [];
  // Every process, whatever its roles: the live console sums what each one counted; and each
  // watches its own unacknowledged reservations (none unless it serves purchases).
  const sharing = consoleMetricsTask(infra);
  await sharing.start();
  const watching = services.unsettled.task();
  await watching.start();
  const started: BackgroundTask[] = [];
  /** Tasks of this process that are not doing their job yet (or any more): not ready. */
  const notReady = () => tasks.filter((t) => !started.includes(t) || (t.ready && !t.ready())).map((t) => t.name);

  const routes: FastifyPluginAsync[] = [
    opsRoutes(infra, notReady),
    activityRoutes(services) as FastifyPluginAsync,
    adminRoutes(services) as FastifyPluginAsync,
    purchaseRoutes({ ...services, metrics: infra.metrics }) as FastifyPluginAsync,
    orderRoutes(services) as FastifyPluginAsync,
    // Exists only for the demo and the web page's dev login; otherwise the route is absent (404).
    ...(config.devTokens ? [devTokenRoutes(services.userAuth) as FastifyPluginAsync] : []),
    wsRoutes({ ...services, limits: config.ws, metrics: infra.metrics }),
    paymentCallbackRoutes(services.payments, config.paymentSecret),
    waitlistRoutes(services) as FastifyPluginAsync,
    queueRoutes(services) as FastifyPluginAsync,
    webRoutes({ ...services, log, liveSeries: () => consoleSeries(infra) }) as FastifyPluginAsync,
  ];
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  let ops: OpsListener | undefined;
  try {
    // Listen first (README, Faults: the service process SIGKILLed): a restarted process answers at once — purchases go
    // through Redis and Kafka without waiting for its own consumers to join their groups (which
    // can take a dead member's session timeout); /readyz says what is not consuming yet.
    if (config.roles.includes('api')) {
      server = buildServer(infra, routes);
      url = await server.listen({ port: options.port ?? config.port, host: config.host });
      if (config.ops) ops = await listenOps(server, options.opsPort ?? config.ops.port, config.ops.host);
      log.info({ url, opsUrl: ops?.url }, 'listening');
    }
    for (const task of tasks) {
      await task.start();
      started.push(task);
      log.info({ task: task.name }, 'worker started');
    }
  } catch (error) {
    await Promise.all([server?.close(), ops?.close()]);
    await Promise.allSettled([...started.map((t) => t.stop()), sharing.stop(), watching.stop()]);
    await services.close();
    await infra.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    infra,
    services,
    server,
    url,
    opsUrl: ops?.url,
    close() {
      closing ??= (async () => {
        await Promise.all([server?.close(), ops?.close()]);
        await Promise.allSettled([...started.reverse().map((t) => t.stop()), sharing.stop(), watching.stop()]);
        await services.close();
        await infra.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
