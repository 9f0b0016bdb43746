/**
 * `npm start`: the API server and the background workers until SIGTERM/SIGINT, then a graceful
 * drain and exit 0. Bad configuration stops it with one line naming the variable. With
 * SECKILL_API_PROCESSES > 1 (default: one per core) this process only supervises that many API
 * processes (src/cli/api-processes.ts); the first of them also runs the background workers.
 */
import cluster from 'node:cluster';
import { type App, startApp } from '../app.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { shareMetricsWithPrimary } from '../cluster-metrics.ts';
import { processIndex, runPrimary } from './api-processes.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

if (cluster.isPrimary && config.roles.includes('api') && config.apiProcesses > 1) {
  await runPrimary(config.apiProcesses, (line) => process.stderr.write(`${line}\n`));
}
// Background workers run in the first API process only: one set per machine is enough.
if (processIndex() > 0) config = { ...config, roles: ['api'] };

// Signals are taken from the start: one that arrives while the app is still starting (a process
// manager stopping a service that just restarted) stops it cleanly once it is up, not half-way.
const started: { app?: App } = {};
let requested: NodeJS.Signals | undefined;

function shutdown(signal: NodeJS.Signals): void {
  const { app } = started;
  if (!app) return;
  const { log } = app.infra;
  log.info({ signal }, 'shutting down');
  // A drain that hangs must not keep the process alive forever.
  setTimeout(() => {
    log.error('shutdown timed out');
    process.exit(1);
  }, 30_000).unref();
  app.close().then(
    () => process.exit(0),
    (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (requested) return;
    requested = signal;
    shutdown(signal);
  });
}

started.app = await startApp(config).catch((error: unknown) => {
  process.stderr.write(`seckill: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
shareMetricsWithPrimary(started.app.infra.metrics.registry);
if (requested) shutdown(requested);
