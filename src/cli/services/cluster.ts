/**
 * The distributed topology (`npm run services -- --topology cluster`): a Redis Cluster of 3 masters
 * with one replica each (6 redis-server processes, ports 7001-7006) and a 3-node KRaft Kafka cluster
 * (brokers 19092-19094, controllers 19192-19194, one controller quorum of the three), all on this
 * machine, beside the default topology's single Redis and broker and sharing its MariaDB.
 *
 * Every node is an ordinary Service (./service.ts), so start is idempotent node by node (a node
 * killed by a fault test is restarted by the next start and rejoins) and stop stops only the nodes
 * this script started. Redis runs without persistence, as in the default topology: a master
 * restarted before its replica took over comes back empty.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLUSTER_NODE_TEMPLATE, kafkaNode, newKafkaClusterId, withKafkaAdmin } from './kafka.ts';
import { address, type Endpoint, ensureCommand, LOCAL, run } from './process.ts';
import { redisNode, withRedis } from './redis.ts';
import type { Service } from './service.ts';

export const CLUSTER_HOST = '127.0.0.1';
export const REDIS_CLUSTER_PORTS = [7001, 7002, 7003, 7004, 7005, 7006] as const;
export const KAFKA_CLUSTER_NODES = [
  { id: 1, port: 19092, controllerPort: 19192 },
  { id: 2, port: 19093, controllerPort: 19193 },
  { id: 3, port: 19094, controllerPort: 19194 },
] as const;

const REDIS_CLUSTER_DIR = join(LOCAL, 'redis-cluster');
const KAFKA_CLUSTER_DIR = join(LOCAL, 'kafka-cluster');
const KAFKA_CLUSTER_ID_FILE = join(KAFKA_CLUSTER_DIR, 'cluster.id');
/** Replicas take over a master unreachable this long; short, so fault tests see a failover soon. */
const REDIS_NODE_TIMEOUT_MS = 5000;
const FORM_TIMEOUT_MS = 60_000;

/** The variables that point the app (and the tests) at this topology. */
export function clusterEnv(): { SECKILL_REDIS_URL: string; SECKILL_KAFKA_BROKERS: string } {
  return {
    SECKILL_REDIS_URL: REDIS_CLUSTER_PORTS.map((port) => `redis://${CLUSTER_HOST}:${port}`).join(','),
    SECKILL_KAFKA_BROKERS: KAFKA_CLUSTER_NODES.map(({ port }) => `${CLUSTER_HOST}:${port}`).join(','),
  };
}

/** The six redis-server nodes; which three are masters is Redis' choice at creation (and after failovers). */
export function redisClusterNodes(): Service[] {
  return REDIS_CLUSTER_PORTS.map((port) =>
    redisNode({
      name: `redis-${port}`,
      dir: join(REDIS_CLUSTER_DIR, String(port)),
      endpoint: { host: CLUSTER_HOST, port },
      cluster: true,
      clusterNodeTimeoutMs: REDIS_NODE_TIMEOUT_MS,
    }),
  );
}

/** The three Kafka nodes; their ownership files are .local/kafka-cluster/node-<id>/kafka-<id>.{pid,address}. */
export function kafkaClusterNodes(): Service[] {
  const voters = KAFKA_CLUSTER_NODES.map(({ id, controllerPort }) => `${id}@${CLUSTER_HOST}:${controllerPort}`).join(',');
  return KAFKA_CLUSTER_NODES.map(({ id, port, controllerPort }) =>
    kafkaNode({
      name: `kafka-${id}`,
      dir: join(KAFKA_CLUSTER_DIR, `node-${id}`),
      endpoint: { host: CLUSTER_HOST, port },
      template: CLUSTER_NODE_TEMPLATE,
      values: { NODE_ID: String(id), QUORUM_VOTERS: voters, CONTROLLER_PORT: String(controllerPort) },
      clusterId: kafkaClusterId,
      // Three JVMs elect a controller together on a small machine that is busy with tests.
      startTimeoutMs: 180_000,
    }),
  );
}

/** Generated once and shared: a node formatted with another cluster id would never join the quorum. */
function kafkaClusterId(java: string): string {
  if (existsSync(KAFKA_CLUSTER_ID_FILE)) return readFileSync(KAFKA_CLUSTER_ID_FILE, 'utf8').trim();
  const id = newKafkaClusterId(java);
  mkdirSync(KAFKA_CLUSTER_DIR, { recursive: true });
  writeFileSync(KAFKA_CLUSTER_ID_FILE, `${id}\n`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

interface RedisClusterView {
  endpoint: Endpoint;
  state: string;
  knownNodes: number;
  slotsAssigned: number;
  /** A master, or a replica whose link to its master is up (its first sync done). */
  replicaLinkUp: boolean;
}

async function clusterInfo(endpoint: Endpoint): Promise<RedisClusterView> {
  const [info, replication] = await withRedis(`redis://${address(endpoint)}`, (client) =>
    Promise.all([client.call('CLUSTER', 'INFO') as Promise<string>, client.info('replication')]),
  );
  // Lines end in \r\n; \S* stops before the \r.
  const field = (name: string, text = info) => new RegExp(`^${name}:(\\S*)`, 'm').exec(text)?.[1] ?? '';
  return {
    replicaLinkUp: field('role', replication) !== 'slave' || field('master_link_status', replication) === 'up',
    endpoint,
    state: field('cluster_state'),
    knownNodes: Number(field('cluster_known_nodes')),
    slotsAssigned: Number(field('cluster_slots_assigned')),
  };
}

/**
 * Makes the six running nodes one healthy cluster and returns how: created (all fresh), joined
 * (fresh nodes added as replicas to a cluster the others already form, e.g. one restarted without
 * its nodes.conf), or found. Waits, bounded, until every node says cluster_state:ok.
 */
export async function formRedisCluster(nodes: Service[]): Promise<string> {
  const views = await Promise.all(nodes.map((node) => clusterInfo(node.endpoint)));
  const fresh = views.filter((v) => v.knownNodes <= 1 && v.slotsAssigned === 0);
  const member = views.find((v) => v.knownNodes > 1);
  let how = 'found';
  if (fresh.length === nodes.length) {
    const cli = ensureCommand('redis-cli', 'redis-tools');
    run(cli, ['--cluster', 'create', ...nodes.map((n) => address(n.endpoint)), '--cluster-replicas', '1', '--cluster-yes']);
    how = 'created';
  } else if (fresh.length > 0 && member !== undefined) {
    const cli = ensureCommand('redis-cli', 'redis-tools');
    for (const node of fresh) {
      run(cli, ['--cluster', 'add-node', address(node.endpoint), address(member.endpoint), '--cluster-slave']);
    }
    how = `joined ${fresh.map((v) => v.endpoint.port).join(', ')} as replicas`;
  }
  const deadline = Date.now() + FORM_TIMEOUT_MS;
  for (;;) {
    const now = await Promise.all(nodes.map((node) => clusterInfo(node.endpoint)));
    // A replica that has not finished its first sync cannot take over: a master lost before then
    // would leave its slots unserved for good. So the cluster is healthy only once every replica's
    // link is up.
    const unhealthy = now.filter((v) => v.state !== 'ok' || v.knownNodes !== nodes.length || !v.replicaLinkUp);
    if (unhealthy.length === 0) return how;
    if (Date.now() > deadline) {
      const detail = unhealthy.map((v) => `${address(v.endpoint)} state=${v.state} known=${v.knownNodes}`).join('; ');
      throw new Error(
        `Redis Cluster not healthy after ${FORM_TIMEOUT_MS / 1000} s (${detail}); ` +
          'if its nodes belong to an older cluster, `npm run services -- --topology cluster stop` and start again',
      );
    }
    await sleep(500);
  }
}

/** One line on the cluster as node 7001 (or the first that answers) sees it. */
export async function redisClusterSummary(nodes: Service[]): Promise<{ line: string; ok: boolean }> {
  for (const node of nodes) {
    try {
      const view = await clusterInfo(node.endpoint);
      const masters = await withRedis(`redis://${address(node.endpoint)}`, async (client) => {
        const text = (await client.call('CLUSTER', 'NODES')) as string;
        // <id> <addr> <flags> <master> <ping> <pong> <epoch> <link> <slots...>: a live master that holds slots.
        return text.split('\n').filter((line) => {
          const fields = line.split(' ');
          const flags = (fields[2] ?? '').split(',');
          return flags.includes('master') && !flags.includes('fail') && fields.length > 8;
        }).length;
      });
      return { line: `state ${view.state}, ${view.knownNodes} nodes known, ${masters} masters serving`, ok: view.state === 'ok' };
    } catch {
      // Ask the next node.
    }
  }
  return { line: 'no node answers', ok: false };
}

/** Forgets the cluster a stopped node belonged to, so the next start creates a fresh one. */
export function forgetRedisClusterNode(node: Service): void {
  rmSync(join(node.dir, 'nodes.conf'), { force: true });
}

// ---------------------------------------------------------------------------------------------
// Kafka cluster

/** Number of brokers the cluster's metadata lists (asked of any answering node). */
export async function kafkaBrokerCount(nodes: Service[]): Promise<number> {
  const metadata = await withKafkaAdmin(
    nodes.map((n) => address(n.endpoint)),
    (admin) => admin.metadata({ topics: [] }),
  );
  return metadata.brokers.size;
}

/**
 * Each node answering is not enough: a broker registers with the quorum a little later, and a topic
 * created meanwhile would get fewer replicas. Waits, bounded, until every node is listed.
 */
export async function waitForKafkaBrokers(nodes: Service[]): Promise<void> {
  const deadline = Date.now() + FORM_TIMEOUT_MS;
  let last = 0;
  for (;;) {
    last = await kafkaBrokerCount(nodes).catch(() => 0);
    if (last >= nodes.length) return;
    if (Date.now() > deadline) throw new Error(`the Kafka cluster lists ${last} of ${nodes.length} brokers after ${FORM_TIMEOUT_MS / 1000} s`);
    await sleep(500);
  }
}
