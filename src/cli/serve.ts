/**
 * `npm start`: the API server and the background workers in one process until SIGTERM/SIGINT,
 * then a graceful drain and exit 0. Bad configuration stops it with one line naming the variable.
 */
import { startApp } from '../app.ts';
import { ConfigError, loadConfig } from '../config.ts';

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

const app = await startApp(config).catch((error: unknown) => {
  process.stderr.write(`seckill: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.infra.log.info({ signal }, 'shutting down');
    // A drain that hangs must not keep the process alive forever.
    setTimeout(() => {
      app.infra.log.error('shutdown timed out');
      process.exit(1);
    }, 30_000).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.infra.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
