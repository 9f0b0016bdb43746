/**
 * Typed, validated configuration. Every variable of the contract's table (docs/api.md) lives here with its documented
 * default; a bad value throws a ConfigError naming the variable, and the CLI turns that into one
 * line on stderr and exit code 1 — the process never starts half-configured.
 */

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

export type Role = 'api' | 'worker';

export interface Config {
  port: number;
  host: string;
  /**
   * The ops listener (SECKILL_OPS_PORT, SECKILL_OPS_HOST): when set, /metrics, /docs, the admin API
   * and the /admin page are served there and the public port answers them 404. Undefined: one port.
   */
  ops: { port: number; host: string } | undefined;
  redis: {
    nodes: string[];
    cluster: boolean;
    prefix: string;
    /**
     * Replicas that must have a reservation (Redis WAIT) before it is published; 0: none. Redis
     * replicates asynchronously, so without it a master failover can lose a reservation that was
     * already answered 202 (its order may then be refused by MySQL, never oversold).
     */
    waitReplicas: number;
    waitTimeoutMs: number;
  };
  mysql: { url: string; database: string };
  kafka: {
    brokers: string[];
    topicPrefix: string;
    /** Partitions of the orders topic; orders are keyed by order id, so one hot activity uses them all. */
    orderPartitions: number;
    /** Replicas per partition; undefined: min(3, brokers the cluster reports), decided at ensureTopics. */
    replicationFactor: number | undefined;
    /** Topic min.insync.replicas (with acks=all); undefined: min(2, replication factor). */
    minInsyncReplicas: number | undefined;
  };
  jwtSecret: string;
  adminToken: string;
  paymentSecret: string;
  paymentSimulator: { enabled: boolean; successRatio: number; delayMs: number };
  devTokens: boolean;
  rate: { userPerSec: number; userBurst: number; ipPerSec: number; trustProxy: boolean };
  reaperIntervalMs: number;
  reconcileIntervalMs: number;
  maxInflight: number;
  /** Purchases are shed (503 BUSY) while the event loop lags more than this; 0 disables. */
  maxEventLoopDelayMs: number;
  degradeAdmitRatio: number;
  waitlistOfferSeconds: number;
  ws: WebSocketLimits;
  roles: Role[];
  /** API processes `npm start` runs on this machine (node:cluster); 1: the process itself serves. */
  apiProcesses: number;
  /** How apiProcesses was decided, for the line `npm start` logs at start. */
  apiProcessesReason: string;
  logLevel: string;
  /** Variables left at an insecure development default; the logger warns loudly about each. */
  devDefaults: string[];
}

/** What one API process allows its WebSockets; every cap and timeout of 0 is off. */
export interface WebSocketLimits {
  /** Open sockets per user id on this process. */
  maxPerUser: number;
  /** Open sockets per client address (X-Forwarded-For only with SECKILL_TRUST_PROXY) on this process. */
  maxPerIp: number;
  /** Open sockets on this process. */
  maxPerInstance: number;
  /** Ping interval; a socket that leaves a ping unanswered for two intervals is dropped. */
  heartbeatMs: number;
  /** A socket whose client has sent nothing for this long is closed. */
  idleTimeoutMs: number;
  /** Unsent bytes a socket may hold before it is closed as a slow consumer. */
  maxBufferedBytes: number;
}

type Env = Record<string, string | undefined>;

export const DEV_SECRETS = {
  SECKILL_JWT_SECRET: 'dev-jwt-secret-change-me',
  SECKILL_ADMIN_TOKEN: 'dev-admin-token',
  SECKILL_PAYMENT_SECRET: 'dev-payment-secret',
} as const;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function number(env: Env, name: string, fallback: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  const { min = 0, max = Number.MAX_SAFE_INTEGER, integer = true } = opts;
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new ConfigError(name, `must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  }
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got "${text}"`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  throw new ConfigError(name, `must be 0 or 1, got "${text}"`);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): URL {
  const text = raw(env, name) ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(name, `is not a valid URL: "${text}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${text}"`);
  }
  if (!parsed.hostname) throw new ConfigError(name, `has no host: "${text}"`);
  return parsed;
}

function secret(env: Env, name: keyof typeof DEV_SECRETS, devDefaults: string[]): string {
  const text = raw(env, name);
  if (text === undefined) {
    devDefaults.push(name);
    return DEV_SECRETS[name];
  }
  if (text.length < 8) throw new ConfigError(name, 'must be at least 8 characters');
  return text;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

function identifier(env: Env, name: string, fallback: string): string {
  const text = raw(env, name) ?? fallback;
  if (!NAME.test(text)) throw new ConfigError(name, `must be 1-100 characters of [A-Za-z0-9._-], got "${text}"`);
  return text;
}

function hostPort(name: string, text: string): string {
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new ConfigError(name, `must be host:port entries, got "${text}"`);
  return text;
}

export function loadConfig(env: Env = process.env): Config {
  const devDefaults: string[] = [];

  const redisText = raw(env, 'SECKILL_REDIS_URL') ?? 'redis://127.0.0.1:6379';
  const redisNodes = redisText.split(',').map((s) => s.trim());
  for (const node of redisNodes) {
    const parsed = url({ SECKILL_REDIS_URL: node }, 'SECKILL_REDIS_URL', '', ['redis:', 'rediss:']);
    if (!/^\/?(\d{1,2})?$/.test(parsed.pathname)) throw new ConfigError('SECKILL_REDIS_URL', `database must be a number, got "${node}"`);
  }

  const mysqlUrl = url(env, 'SECKILL_MYSQL_URL', 'mysql://root@127.0.0.1:3306/seckill', ['mysql:', 'mariadb:']);
  const database = decodeURIComponent(mysqlUrl.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) {
    throw new ConfigError('SECKILL_MYSQL_URL', `must name a database of [A-Za-z0-9_], got "${database}"`);
  }
  mysqlUrl.protocol = 'mysql:';

  const brokersText = raw(env, 'SECKILL_KAFKA_BROKERS') ?? '127.0.0.1:9092';
  const brokers = brokersText.split(',').map((b) => hostPort('SECKILL_KAFKA_BROKERS', b.trim()));

  // Unset means "decide from the cluster" (ensureTopics asks how many brokers there are).
  const optionalCount = (name: string) => (raw(env, name) === undefined ? undefined : number(env, name, 0, { min: 1, max: 100 }));
  const replicationFactor = optionalCount('SECKILL_KAFKA_REPLICATION_FACTOR');
  const minInsyncReplicas = optionalCount('SECKILL_KAFKA_MIN_INSYNC_REPLICAS');
  if (replicationFactor !== undefined && minInsyncReplicas !== undefined && minInsyncReplicas > replicationFactor) {
    // No write with acks=all could ever succeed.
    throw new ConfigError(
      'SECKILL_KAFKA_MIN_INSYNC_REPLICAS',
      `must not exceed SECKILL_KAFKA_REPLICATION_FACTOR (${replicationFactor}), got "${minInsyncReplicas}"`,
    );
  }

  const host = raw(env, 'HOST') ?? '127.0.0.1';
  const rolesText = raw(env, 'SECKILL_ROLES') ?? 'api,worker';
  const roles = rolesText.split(',').map((r) => r.trim());
  for (const role of roles) {
    if (role !== 'api' && role !== 'worker') throw new ConfigError('SECKILL_ROLES', `must list api and/or worker, got "${rolesText}"`);
  }

  const cores = usableCores();
  const apiProcesses = number(env, 'SECKILL_API_PROCESSES', cores.count, { min: 1, max: 256 });
  const apiProcessesReason = raw(env, 'SECKILL_API_PROCESSES') === undefined ? `default: one per usable core (${cores.why})` : 'SECKILL_API_PROCESSES';

  const logLevel = raw(env, 'SECKILL_LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('SECKILL_LOG_LEVEL', `must be a pino level, got "${logLevel}"`);
  }

  const port = number(env, 'PORT', 8080, { max: 65535 });
  // Port 0 (any free port) only makes sense in tests, where both listeners may ask for one.
  const opsPort = raw(env, 'SECKILL_OPS_PORT') === undefined ? undefined : number(env, 'SECKILL_OPS_PORT', 0, { max: 65535 });
  if (opsPort !== undefined && opsPort !== 0 && opsPort === port) throw new ConfigError('SECKILL_OPS_PORT', `must differ from PORT (${port}), got "${opsPort}"`);
  const opsHost = raw(env, 'SECKILL_OPS_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:_-]+$/.test(opsHost)) throw new ConfigError('SECKILL_OPS_HOST', `must be a host name or address, got "${opsHost}"`);

  return {
    port,
    host,
    ops: opsPort === undefined ? undefined : { port: opsPort, host: opsHost },
    redis: {
      nodes: redisNodes,
      cluster: redisNodes.length > 1,
      waitReplicas: number(env, 'SECKILL_REDIS_WAIT_REPLICAS', 0, { max: 10 }),
      waitTimeoutMs: number(env, 'SECKILL_REDIS_WAIT_TIMEOUT_MS', 100, { min: 1, max: 10_000 }),
      prefix: identifier(env, 'SECKILL_REDIS_PREFIX', 'sk'),
    },
    mysql: { url: mysqlUrl.toString(), database },
    kafka: {
      brokers,
      topicPrefix: identifier(env, 'SECKILL_KAFKA_TOPIC_PREFIX', 'seckill'),
      orderPartitions: number(env, 'SECKILL_KAFKA_ORDER_PARTITIONS', 12, { min: 1, max: 10_000 }),
      replicationFactor,
      minInsyncReplicas,
    },
    jwtSecret: secret(env, 'SECKILL_JWT_SECRET', devDefaults),
    adminToken: secret(env, 'SECKILL_ADMIN_TOKEN', devDefaults),
    paymentSecret: secret(env, 'SECKILL_PAYMENT_SECRET', devDefaults),
    paymentSimulator: {
      enabled: flag(env, 'SECKILL_PAYMENT_SIMULATOR', false),
      successRatio: number(env, 'SECKILL_PAYMENT_SIMULATOR_SUCCESS_RATIO', 0.9, { max: 1, integer: false }),
      delayMs: number(env, 'SECKILL_PAYMENT_SIMULATOR_DELAY_MS', 300, { max: 600_000 }),
    },
    devTokens: flag(env, 'SECKILL_DEV_TOKENS', false),
    rate: {
      userPerSec: number(env, 'SECKILL_RATE_USER_PER_SEC', 5, { integer: false, max: 1_000_000 }),
      userBurst: number(env, 'SECKILL_RATE_USER_BURST', 10, { max: 1_000_000 }),
      ipPerSec: number(env, 'SECKILL_RATE_IP_PER_SEC', 0, { integer: false, max: 1_000_000 }),
      trustProxy: flag(env, 'SECKILL_TRUST_PROXY', false),
    },
    reaperIntervalMs: number(env, 'SECKILL_REAPER_INTERVAL_MS', 1000, { min: 10, max: 3_600_000 }),
    reconcileIntervalMs: number(env, 'SECKILL_RECONCILE_INTERVAL_MS', 30_000, { min: 100, max: 86_400_000 }),
    maxInflight: number(env, 'SECKILL_MAX_INFLIGHT', 2000, { min: 1, max: 1_000_000 }),
    maxEventLoopDelayMs: number(env, 'SECKILL_MAX_EVENT_LOOP_DELAY_MS', 500, { max: 60_000 }),
    degradeAdmitRatio: number(env, 'SECKILL_DEGRADE_ADMIT_RATIO', 0, { max: 1, integer: false }),
    waitlistOfferSeconds: number(env, 'SECKILL_WAITLIST_OFFER_SECONDS', 60, { min: 1, max: 86_400 }),
    ws: {
      maxPerUser: number(env, 'SECKILL_WS_MAX_PER_USER', 10, { max: 1_000_000 }),
      maxPerIp: number(env, 'SECKILL_WS_MAX_PER_IP', 1000, { max: 10_000_000 }),
      maxPerInstance: number(env, 'SECKILL_WS_MAX_PER_INSTANCE', 50_000, { max: 10_000_000 }),
      heartbeatMs: number(env, 'SECKILL_WS_HEARTBEAT_MS', 30_000, { min: 100, max: 3_600_000 }),
      idleTimeoutMs: number(env, 'SECKILL_WS_IDLE_TIMEOUT_MS', 1_800_000, { max: 86_400_000 }),
      maxBufferedBytes: number(env, 'SECKILL_WS_MAX_BUFFERED_BYTES', 262_144, { min: 4096, max: 1_073_741_824 }),
    },
    roles: [...new Set(roles)] as Role[],
    apiProcesses,
    apiProcessesReason,
    logLevel,
    devDefaults,
  };
}

/**
 * The cores this process may use: the CPUs it may run on (os.availableParallelism(), which follows
 * taskset and cpusets), capped by a cgroup v2 CPU quota (a container given 2 CPUs of a 64-core host).
 * One API process per usable core is the default: a Node process computes on one core; measured with
 * a native load generator (bench/processes.ts), one per core answers 1.2-1.8x what one process does,
 * and on a machine the service has to itself more processes than cores only take turns on them.
 */
export function usableCores(cpuMaxFile = '/sys/fs/cgroup/cpu.max'): { count: number; why: string } {
  const parallelism = availableParallelism();
  let quota: number | undefined;
  try {
    const [max, period] = readFileSync(cpuMaxFile, 'utf8').trim().split(/\s+/);
    if (max !== undefined && max !== 'max' && Number(period) > 0) quota = Math.max(1, Math.ceil(Number(max) / Number(period)));
  } catch {
    // No cgroup v2 CPU controller here: the CPUs are the limit.
  }
  if (quota !== undefined && quota < parallelism) return { count: quota, why: `cgroup CPU quota of ${quota} of ${parallelism} CPUs` };
  return { count: parallelism, why: `${parallelism} CPUs available` };
}
