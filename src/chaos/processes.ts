/**
 * The campaign's own Kafka broker and redis-server (or Redis Cluster), on free ports, never the
 * shared 9092/6379/7001-7006: faults kill, freeze and restart them, which would break every other
 * test and helper using the shared ones. Both are built by the same node builders `npm run services` uses
 * (src/cli/services/{kafka,redis}.ts), so their configuration is the project's, not a copy.
 *
 * The broker's data directory survives a kill and a restart (a broker crash keeps its log, and the
 * acknowledged reservations in it); the redis-server has no persistence, so a restart is empty.
 * `destroy()` kills the process and removes the directory; it is also run on process exit, because
 * the processes are started detached and would otherwise outlive a crashed test.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formRedisCluster } from '../cli/services/cluster.ts';
import { kafkaNode, SINGLE_NODE_TEMPLATE } from '../cli/services/kafka.ts';
import { ROOT, runs, waitUntilGone } from '../cli/services/process.ts';
import { redisNode } from '../cli/services/redis.ts';
import { type Service, waitUntilAnswering } from '../cli/services/service.ts';
import { freePort } from '../demo/service.ts';

/** A broker whose clients' listener is advertised at a proxy's port (infra/kafka/proxied-node.properties.template). */
const PROXIED_NODE_TEMPLATE = join(ROOT, 'infra/kafka/proxied-node.properties.template');

/** A process the test owns: started, signalled and finally destroyed by it. */
export class OwnProcess {
  readonly name: string;
  readonly dir: string;
  private readonly service: Service;
  private current: number | undefined;
  private destroyed = false;
  private readonly onExit = () => this.killNow();

  constructor(service: Service) {
    this.service = service;
    this.name = service.name;
    this.dir = service.dir;
    process.once('exit', this.onExit);
  }

  get pid(): number | undefined {
    return this.current;
  }

  get address(): string {
    return `${this.service.endpoint.host}:${this.service.endpoint.port}`;
  }

  get port(): number {
    return this.service.endpoint.port;
  }

  /** True while its process runs (a stopped one too). */
  get running(): boolean {
    return this.current !== undefined && runs(this.current, this.service.program);
  }

  /** Starts it (again, on the same port and directory) and waits until it answers its protocol. */
  async start(): Promise<void> {
    if (this.destroyed) throw new Error(`${this.name} was destroyed`);
    if (this.current !== undefined && runs(this.current, this.service.program)) throw new Error(`${this.name} already runs (pid ${this.current})`);
    this.service.prepare();
    this.current = await this.service.start();
    await waitUntilAnswering(this.service, this.current);
  }

  /**
   * Sends `signal` to the process (SIGKILL, SIGTERM, SIGSTOP, SIGCONT); SIGKILL and SIGTERM wait
   * until it is gone (a broker's orderly shutdown takes seconds; one that outlasts the bound is killed).
   */
  async signal(signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const pid = this.current;
    if (pid === undefined) throw new Error(`${this.name} is not running`);
    process.kill(pid, signal);
    if (signal === 'SIGTERM' && !(await waitUntilGone(pid, this.service.program, 30_000))) process.kill(pid, 'SIGKILL');
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      if (!(await waitUntilGone(pid, this.service.program, 10_000))) throw new Error(`${this.name} (pid ${pid}) survived ${signal}`);
      this.current = undefined;
    }
  }

  /** Kills the process (a stopped one too) and removes its directory. */
  async destroy(): Promise<void> {
    const pid = this.current;
    this.killNow();
    if (pid !== undefined) await waitUntilGone(pid, this.service.program, 10_000);
    // The JVM may still be flushing a file or two for a moment after the kill.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        rmSync(this.dir, { recursive: true, force: true });
        break;
      } catch {
        await sleep(200);
      }
    }
    this.destroyed = true;
    process.off('exit', this.onExit);
  }

  private killNow(): void {
    const pid = this.current;
    this.current = undefined;
    if (pid === undefined || !runs(pid, this.service.program)) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A KRaft cluster id is a base64url UUID; made here instead of by `StorageTool random-uuid`, which
 * would cost one more JVM start per test. Kafka's own generator avoids ids starting with '-'.
 */
function clusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A single-node Kafka 4.1 (KRaft) in a fresh temporary directory, on free ports; not started yet.
 * With `advertisedPort`, clients reach it through a proxy listening there, which forwards to
 * `externalPort` (see PROXIED_NODE_TEMPLATE); `address` stays the direct one.
 */
export async function ownKafka(proxied?: { externalPort: number; advertisedPort: number }): Promise<OwnProcess> {
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'seckill-chaos-kafka-'));
  const id = clusterId();
  return new OwnProcess(
    kafkaNode({
      name: 'kafka-chaos',
      dir,
      endpoint: { host: '127.0.0.1', port },
      template: proxied ? PROXIED_NODE_TEMPLATE : SINGLE_NODE_TEMPLATE,
      values: {
        CONTROLLER_PORT: String(controllerPort),
        ...(proxied ? { EXTERNAL_PORT: String(proxied.externalPort), ADVERTISED_PORT: String(proxied.advertisedPort) } : {}),
      },
      clusterId: () => id,
      heapMb: 384,
      // A JVM start on a machine busy with other tests can take a while.
      startTimeoutMs: 90_000,
    }),
  );
}

/** A diskless redis-server in a fresh temporary directory on a free port; not started yet. */
export async function ownRedis(): Promise<OwnProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'seckill-chaos-redis-'));
  return new OwnProcess(redisNode({ name: 'redis-chaos', dir, endpoint: { host: '127.0.0.1', port } }));
}

/**
 * A Redis Cluster of the test's own: `masters` masters with one replica each, diskless, on free
 * ports (never the shared 7001-7006), formed by the same step `npm run services -- --topology
 * cluster` uses. A replica takes over a master unreachable for `nodeTimeoutMs`.
 */
export async function ownRedisCluster(options: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<OwnProcess[]> {
  const count = (options.masters ?? 3) * 2;
  const nodes: OwnProcess[] = [];
  const services: Service[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const service = redisNode({
      name: `redis-cluster-${port}`,
      dir: mkdtempSync(join(tmpdir(), 'seckill-chaos-rcluster-')),
      endpoint: { host: '127.0.0.1', port },
      cluster: true,
      clusterNodeTimeoutMs: options.nodeTimeoutMs ?? 2000,
    });
    services.push(service);
    nodes.push(new OwnProcess(service));
  }
  try {
    await Promise.all(nodes.map((node) => node.start()));
    await formRedisCluster(services);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.destroy()));
    throw error;
  }
  return nodes;
}
