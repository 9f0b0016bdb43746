/**
 * Composition root: infrastructure → services → HTTP routes and background workers, in that
 * order, and the reverse on shutdown (stop accepting, drain requests, stop workers, close clients).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from './config.ts';
import { adminRoutes } from './http/routes/admin.ts';
import { orderLifecycleRoutes } from './http/routes/orders-lifecycle.ts';
import { opsRoutes } from './http/routes/ops.ts';
import { paymentRoutes } from './http/routes/payments.ts';
import { publicRoutes } from './http/routes/public.ts';
import { userRoutes } from './http/routes/users.ts';
import { webRoutes } from './http/routes/web.ts';
import { waitlistRoutes } from './http/routes/waitlist.ts';
import { wsRoutes } from './http/routes/ws.ts';
import { buildServer } from './http/server.ts';
import { createInfra, type Infra } from './infra.ts';
import { createLogger, type Logger } from './log.ts';
import { createServices, type Services } from './services/container.ts';
import { createLifecycleTasks } from './workers/lifecycle.ts';
import { createOrderWorker } from './workers/order-worker.ts';
import { createStockSweeper } from './workers/stock-sweeper.ts';

/** A background loop owned by the process (order worker, reaper, relay, ...). */
export interface BackgroundTask {
  name: string;
  start(): Promise<void>;
  /** Finishes the work in hand (no half-written batch) and resolves when stopped. */
  stop(): Promise<void>;
  /** False while the task cannot do its job (e.g. its Kafka consumer is not joined): /readyz says 503. */
  ready?(): boolean;
}

export interface App {
  infra: Infra;
  services: Services;
  server: FastifyInstance | undefined;
  /** Base URL once listening (api role only). */
  url: string | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Listen on this port instead of config.port (0 = any free port; tests). */
  port?: number;
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

  const tasks: BackgroundTask[] = config.roles.includes('worker')
    ? [createOrderWorker({ ...infra, ...services }), createStockSweeper(services.inventory, log), ...createLifecycleTasks(infra, services)]
    : [];
  const started: BackgroundTask[] = [];
  /** Tasks of this process that are not doing their job yet (or any more): not ready. */
  const notReady = () => tasks.filter((t) => !started.includes(t) || (t.ready && !t.ready())).map((t) => t.name);

  const routes: FastifyPluginAsync[] = [
    opsRoutes(infra, notReady),
    publicRoutes(infra, services),
    adminRoutes(services) as FastifyPluginAsync,
    userRoutes(services, { devTokens: config.devTokens, metrics: infra.metrics }) as FastifyPluginAsync,
    wsRoutes(services),
    orderLifecycleRoutes(services) as FastifyPluginAsync,
    paymentRoutes(services, config.paymentSecret),
    waitlistRoutes(services) as FastifyPluginAsync,
    webRoutes(infra, services) as FastifyPluginAsync,
  ];
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  try {
    // Listen first (issue #10, fault 7): a restarted process answers at once — purchases go
    // through Redis and Kafka without waiting for its own consumers to join their groups (which
    // can take a dead member's session timeout); /readyz says what is not consuming yet.
    if (config.roles.includes('api')) {
      server = buildServer(infra, routes);
      url = await server.listen({ port: options.port ?? config.port, host: config.host });
      log.info({ url }, 'listening');
    }
    for (const task of tasks) {
      await task.start();
      started.push(task);
      log.info({ task: task.name }, 'worker started');
    }
  } catch (error) {
    await server?.close();
    await Promise.allSettled(started.map((t) => t.stop()));
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
    close() {
      closing ??= (async () => {
        await server?.close();
        await Promise.allSettled(started.reverse().map((t) => t.stop()));
        await services.close();
        await infra.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
