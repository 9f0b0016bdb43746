/**
 * The campaign's world: its own Redis (one redis-server, or a 3 + 3 Redis Cluster) and its own
 * Kafka broker on free ports, TCP proxies between the service and its dependencies, and per run a
 * fresh MySQL database on the shared server, fresh Redis and topic prefixes, and the service as a
 * child process. The processes are shared by the runs of one campaign (a JVM start costs seconds);
 * each run's data is its own, and `heal()` puts the processes back in shape between runs.
 *
 * Kafka on the cluster topology is one broker too: three more JVMs (about 450 MB and a core for
 * tens of seconds each to start and elect) do not fit a 2-core machine next to the shared
 * services; broker failover is tested on the shared 3-broker cluster by test/topology/cluster.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import { deleteKafkaTopics, deleteRedisPrefix, dropDatabase } from '../demo/cleanup.ts';
import { freePort } from '../demo/service.ts';
import { FakeClock } from './clock.ts';
import type { Link, Plan, Topology } from './plan.ts';
import { type OwnProcess, ownKafka, ownRedis, ownRedisCluster } from './processes.ts';
import { TcpProxy } from './proxy.ts';
import { serviceProcess, type ServiceProcess } from './service.ts';

/** The shared MariaDB (never faulted itself: only the service's connections to it are). */
export const MYSQL_SERVER = process.env.SECKILL_TEST_MYSQL_SERVER ?? 'mysql://root@127.0.0.1:3306';
/** Where every run's service log goes (overwritten by the next run of the same seed). */
export const LOG_DIR = join(tmpdir(), 'seckill-chaos-logs');
/** Redis Cluster replicas take over a master unreachable this long. */
export const CLUSTER_NODE_TIMEOUT_MS = 2000;

/** One run's deployment: its database, prefixes, secrets, clock and service process. */
export interface RunEnv {
  id: string;
  database: string;
  redisPrefix: string;
  topicPrefix: string;
  adminToken: string;
  paymentSecret: string;
  token(userId: string): string;
  env: Record<string, string>;
  clock: FakeClock | undefined;
  service: ServiceProcess;
}

export class World {
  readonly topology: Topology;
  kafka!: OwnProcess;
  redis: OwnProcess[] = [];
  readonly proxies = new Map<Link, TcpProxy>();
  private readonly runs = new Set<RunEnv>();
  // Node runs no 'exit' handler when a signal ends it: turn the signal into an exit, so every
  // process of the world (each registers a kill on exit) goes with the campaign.
  private readonly onSignal = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);

  private constructor(topology: Topology) {
    this.topology = topology;
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Starts everything (bounded by the processes' own start bounds); cleans up what it started if that fails. */
  static async start(topology: Topology): Promise<World> {
    const world = new World(topology);
    try {
      await world.setUp();
    } catch (error) {
      await world.stop().catch(() => {});
      throw error;
    }
    return world;
  }

  private async setUp(): Promise<void> {
    mkdirSync(LOG_DIR, { recursive: true });
    const mysql = new URL(MYSQL_SERVER);
    const mysqlProxy = new TcpProxy('mysql', { host: mysql.hostname, port: Number(mysql.port || 3306) });
    await mysqlProxy.listen();
    this.proxies.set('mysql', mysqlProxy);

    const externalPort = await freePort();
    const kafkaProxy = new TcpProxy('kafka', { host: '127.0.0.1', port: externalPort });
    await kafkaProxy.listen();
    this.proxies.set('kafka', kafkaProxy);
    this.kafka = await ownKafka({ externalPort, advertisedPort: kafkaProxy.port });

    if (this.topology === 'single') {
      const redis = await ownRedis();
      this.redis = [redis];
      const redisProxy = new TcpProxy('redis', { host: '127.0.0.1', port: redis.port });
      await redisProxy.listen();
      this.proxies.set('redis', redisProxy);
      await Promise.all([redis.start(), this.kafka.start()]);
    } else {
      const [nodes] = await Promise.all([ownRedisCluster({ masters: 3, nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS }), this.kafka.start()]);
      this.redis = nodes;
    }
  }

  proxy(link: Link): TcpProxy {
    const proxy = this.proxies.get(link);
    if (!proxy) throw new Error(`no proxy for ${link} on the ${this.topology} topology`);
    return proxy;
  }

  /** Redis as the campaign's checker reads it: straight to the nodes. */
  get redisUrl(): string {
    return this.redis.map((node) => `redis://${node.address}`).join(',');
  }

  /** Redis as the service reaches it: through the proxy for a single Redis. */
  private get serviceRedisUrl(): string {
    const proxy = this.proxies.get('redis');
    return proxy ? `redis://${proxy.address}` : this.redisUrl;
  }

  /** A fresh deployment for one run, its service started and ready. */
  async startRun(plan: Plan, label: string): Promise<RunEnv> {
    const id = `${label}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`.replace(/[^A-Za-z0-9_]/g, '_');
    const port = await freePort();
    const secrets = {
      SECKILL_JWT_SECRET: `chaos-jwt-${randomBytes(12).toString('hex')}`,
      SECKILL_ADMIN_TOKEN: `chaos-admin-${randomBytes(12).toString('hex')}`,
      SECKILL_PAYMENT_SECRET: `chaos-pay-${randomBytes(12).toString('hex')}`,
    };
    const database = `chaos_${id}`.slice(0, 64);
    const mysqlProxy = this.proxy('mysql');
    const mysqlUser = new URL(MYSQL_SERVER);
    mysqlUser.host = mysqlProxy.address;
    mysqlUser.pathname = `/${database}`;
    const clock = plan.faults.some((f) => f.kind === 'clock-jump') ? new FakeClock(join(LOG_DIR, `${label}.faketime`)) : undefined;
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      SECKILL_MYSQL_URL: mysqlUser.toString(),
      SECKILL_REDIS_URL: this.serviceRedisUrl,
      SECKILL_REDIS_PREFIX: `ch_${id}`,
      SECKILL_KAFKA_BROKERS: this.proxy('kafka').address,
      SECKILL_KAFKA_TOPIC_PREFIX: `ch_${id}`,
      SECKILL_API_PROCESSES: String(plan.apiProcesses),
      // The buyers retry at their own pace; the per-user rate limit would only add 429s.
      SECKILL_RATE_USER_PER_SEC: '0',
      // Short intervals so a run settles in seconds; the repairs are the same as at 30 s.
      SECKILL_RECONCILE_INTERVAL_MS: '2000',
      SECKILL_REAPER_INTERVAL_MS: '1000',
      SECKILL_LOG_LEVEL: 'info',
      ...secrets,
      ...(clock ? clock.env() : {}),
    };
    const signer = createSigner({ key: secrets.SECKILL_JWT_SECRET, algorithm: 'HS256', expiresIn: 3_600_000 });
    const service = serviceProcess(env, join(LOG_DIR, `${label}.log`));
    const run: RunEnv = {
      id,
      database,
      redisPrefix: env['SECKILL_REDIS_PREFIX']!,
      topicPrefix: env['SECKILL_KAFKA_TOPIC_PREFIX']!,
      adminToken: secrets.SECKILL_ADMIN_TOKEN,
      paymentSecret: secrets.SECKILL_PAYMENT_SECRET,
      token: (userId) => signer({ sub: userId }),
      env,
      clock,
      service,
    };
    this.runs.add(run);
    service.spawn();
    await service.waitReady(120_000);
    return run;
  }

  /** Stops the run's service (if it still runs) and drops its data; returns what could not be cleaned. */
  async endRun(run: RunEnv): Promise<string[]> {
    const problems: string[] = [];
    await run.service.end().catch((error: unknown) => problems.push(`service: ${String(error)}`));
    this.runs.delete(run);
    const dropped = await dropDatabase(`${MYSQL_SERVER}/${run.database}`);
    if (dropped) problems.push(dropped);
    // Best effort: a run may end with Redis or the broker still recovering; the world is thrown away anyway.
    await deleteRedisPrefix(this.redisUrl, run.redisPrefix).catch(() => undefined);
    await deleteKafkaTopics([this.kafka.address], run.topicPrefix).catch(() => undefined);
    if (run.clock) rmSync(run.clock.file, { force: true });
    return problems;
  }

  /** Puts every process and proxy back in shape after a run (a fault may have been cut short by a failure). */
  async heal(): Promise<void> {
    for (const proxy of this.proxies.values()) proxy.heal();
    if (this.kafka.running) await this.kafka.signal('SIGCONT');
    else await this.kafka.start();
    const down = this.redis.filter((node) => !node.running);
    await Promise.all(down.map((node) => node.start()));
    if (this.topology === 'cluster') await this.waitClusterOk(60_000);
  }

  /** Waits until every running cluster node says cluster_state:ok (bounded). */
  async waitClusterOk(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.redis.filter((n) => n.running).map((node) => clusterState(node.address)));
      if (states.every((s) => s === 'ok')) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster is not ok after ${timeoutMs} ms: ${states.join(', ')}`);
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const run of [...this.runs]) await this.endRun(run).catch(() => {});
    for (const proxy of this.proxies.values()) await proxy.close().catch(() => {});
    const owned = [...this.redis, ...(this.kafka ? [this.kafka] : [])];
    if (this.kafka?.running) await this.kafka.signal('SIGCONT').catch(() => {});
    await Promise.all(owned.map((process) => process.destroy().catch(() => {})));
  }
}

/** One node's cluster_state, or why it could not say. */
export async function clusterState(address: string): Promise<string> {
  const client = new Redis(`redis://${address}`, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = (await client.call('CLUSTER', 'INFO')) as string;
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? '?';
  } catch (error) {
    return `unreachable (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    client.disconnect();
  }
}
