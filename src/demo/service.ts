/**
 * The demo's own instance of the service: `node src/cli/serve.ts` as a child process on a free
 * port, with its own database, Redis prefix and Kafka topic prefix, so a demo never touches the
 * data of a running deployment (or of another demo).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface ServiceEnv {
  url: string;
  env: Record<string, string>;
  mysqlUrl: string;
  redisUrl: string;
  redisPrefix: string;
  topicPrefix: string;
  jwtSecret: string;
  adminToken: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A fresh, unique deployment name per run: database `seckill_demo_<id>`, prefixes `demo_<id>`. */
export async function demoEnv(options: { paymentTimeoutSeconds: number; extra?: Record<string, string> }): Promise<ServiceEnv> {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const mysqlServer = (process.env.SECKILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/seckill').replace(/\/[^/]*$/, '');
  const redisUrl = process.env.SECKILL_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const jwtSecret = `demo-jwt-${randomBytes(12).toString('hex')}`;
  const adminToken = `demo-admin-${randomBytes(12).toString('hex')}`;
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    SECKILL_MYSQL_URL: `${mysqlServer}/seckill_demo_${id}`,
    SECKILL_REDIS_URL: redisUrl,
    SECKILL_REDIS_PREFIX: `demo_${id}`,
    SECKILL_KAFKA_BROKERS: process.env.SECKILL_KAFKA_BROKERS ?? '127.0.0.1:9092',
    SECKILL_KAFKA_TOPIC_PREFIX: `demo_${id}`,
    SECKILL_JWT_SECRET: jwtSecret,
    SECKILL_ADMIN_TOKEN: adminToken,
    SECKILL_PAYMENT_SECRET: `demo-pay-${randomBytes(12).toString('hex')}`,
    SECKILL_DEV_TOKENS: '1',
    SECKILL_PAYMENT_SIMULATOR: '1',
    // Most payments succeed, some fail: the failures' units go back on sale for the waiting crowd.
    SECKILL_PAYMENT_SIMULATOR_SUCCESS_RATIO: '0.9',
    SECKILL_PAYMENT_SIMULATOR_DELAY_MS: '300',
    SECKILL_REAPER_INTERVAL_MS: '500',
    SECKILL_WAITLIST_OFFER_SECONDS: '5',
    SECKILL_LOG_LEVEL: 'warn',
    ...options.extra,
  };
  return {
    url: `http://127.0.0.1:${port}`,
    env,
    mysqlUrl: env['SECKILL_MYSQL_URL']!,
    // What the service really uses (an `extra` may point it at the cluster topology).
    redisUrl: env['SECKILL_REDIS_URL']!,
    redisPrefix: env['SECKILL_REDIS_PREFIX']!,
    topicPrefix: env['SECKILL_KAFKA_TOPIC_PREFIX']!,
    jwtSecret,
    adminToken,
  };
}

export interface RunningService {
  child: ChildProcess;
  stop(): Promise<number | null>;
}

const SERVE = fileURLToPath(new URL('../cli/serve.ts', import.meta.url));

/** Starts the service, its log going to `logFile`, and waits until /readyz answers 200. */
export async function startService(service: ServiceEnv, logFile: string, timeoutMs = 60_000, options: { cpu?: number } = {}): Promise<RunningService> {
  const log = createWriteStream(logFile);
  // Benchmarks pin the service to one core (taskset) and the load generator to the other.
  const [command, args] = options.cpu === undefined ? [process.execPath, [SERVE]] : ['taskset', ['-c', String(options.cpu), process.execPath, SERVE]];
  const child = spawn(command as string, args as string[], {
    // Pinned to one core, one API process is what that core can run (a benchmark's baseline).
    env: { ...process.env, ...service.env, ...(options.cpu === undefined ? {} : { SECKILL_API_PROCESSES: '1' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      exited = code;
      resolve(code);
    });
  });

  const running: RunningService = {
    child,
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 35_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`the service exited with code ${exited} before it was ready; see ${logFile}`);
    try {
      const response = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return running;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await running.stop();
  throw new Error(`the service was not ready within ${timeoutMs} ms; see ${logFile}`);
}
