/**
 * `npm start`: the API server and the background workers until SIGTERM/SIGINT, then a graceful
 * drain and exit 0. Bad configuration stops it with one line naming the variable. With
 * SECKILL_API_PROCESSES > 1 (default: one per core) this process only supervises that many API
 * processes (src/cli/api-processes.ts); the first of them also runs the background workers.
 */
import cluster from 'node:cluster';
import { type App, startApp } from '../app/app.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { shareMetricsWithPrimary } from '../platform/cluster-metrics.ts';
import { processIndex, runPrimary } from './api-processes.ts';
import { parseCommandLine } from './command-line.ts';

// Before the configuration is even read: `serve.ts --help` must not start a server (which would
// create the database and the topics of whatever the environment points at).
parseCommandLine(
  {
    name: 'serve',
    usage: `usage: node_modules/.bin/node src/cli/serve.ts        (what \`npm start\` runs)

Runs the seckill API server and the background workers (order consumer, payment-timeout reaper,
reconciliation, waitlist, outbox relay and side-effect consumers, stock sweeper) until SIGTERM or
SIGINT, then drains and exits 0. At start it creates and migrates the MySQL database and creates the
Kafka topics it needs. With SECKILL_API_PROCESSES > 1 it supervises that many API processes.

Takes no flags but --help. Configured by environment variables (unset: the documented default):
  PORT, HOST                        HTTP listen address [8080, 127.0.0.1]
  SECKILL_OPS_PORT, SECKILL_OPS_HOST  the ops listener for /metrics, /docs and the admin API and
                                    console [unset: all on PORT; 127.0.0.1]
  SECKILL_REDIS_URL, SECKILL_REDIS_PREFIX, SECKILL_REDIS_WAIT_REPLICAS, SECKILL_REDIS_WAIT_TIMEOUT_MS
  SECKILL_MYSQL_URL
  SECKILL_KAFKA_BROKERS, SECKILL_KAFKA_TOPIC_PREFIX, SECKILL_KAFKA_ORDER_PARTITIONS,
    SECKILL_KAFKA_REPLICATION_FACTOR, SECKILL_KAFKA_MIN_INSYNC_REPLICAS
  SECKILL_JWT_SECRET, SECKILL_ADMIN_TOKEN, SECKILL_PAYMENT_SECRET   (dev defaults, with a loud warning)
  SECKILL_PAYMENT_SIMULATOR, SECKILL_PAYMENT_SIMULATOR_SUCCESS_RATIO, SECKILL_PAYMENT_SIMULATOR_DELAY_MS
  SECKILL_DEV_TOKENS
  SECKILL_RATE_USER_PER_SEC, SECKILL_RATE_USER_BURST, SECKILL_RATE_IP_PER_SEC, SECKILL_TRUST_PROXY
  SECKILL_REAPER_INTERVAL_MS, SECKILL_RECONCILE_INTERVAL_MS, SECKILL_WAITLIST_OFFER_SECONDS
  SECKILL_MAX_INFLIGHT, SECKILL_MAX_EVENT_LOOP_DELAY_MS, SECKILL_DEGRADE_ADMIT_RATIO
  SECKILL_WS_MAX_PER_USER, SECKILL_WS_MAX_PER_IP, SECKILL_WS_MAX_PER_INSTANCE, SECKILL_WS_HEARTBEAT_MS,
    SECKILL_WS_IDLE_TIMEOUT_MS, SECKILL_WS_MAX_BUFFERED_BYTES
  SECKILL_ROLES, SECKILL_API_PROCESSES, SECKILL_LOG_LEVEL
A bad value stops the start with one line naming the variable.

Each variable's meaning and default: README.md, section "Configuration".`,
  },
  { options: {} },
);

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

if (cluster.isPrimary) {
  const serving = config.roles.includes('api') ? `${config.apiProcesses} API process(es)` : 'no API process';
  process.stderr.write(`seckill: ${serving} (${config.apiProcessesReason}); roles ${config.roles.join(',')}\n`);
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
