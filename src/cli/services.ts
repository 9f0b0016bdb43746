/**
 * `npm run services [start|stop|status] [--topology single|cluster]`: makes sure Redis, MariaDB and
 * Kafka accept connections, so `npm start` and `npm test` work on a bare Debian machine without Docker.
 *
 * - start (default): idempotent. A service that answers its protocol is left alone ("found"). One
 *   that does not, on a local address, is started here: Redis and MariaDB from Debian's packages
 *   (installed with apt-get when missing), Kafka as a real Apache Kafka 4.1 KRaft node run from
 *   the jars infra/kafka/pom.xml fetches. Whatever this script starts records its pid and address
 *   under .local/ (./services/service.ts); that is how `stop` knows what is ours, and how a second
 *   run knows not to start another.
 * - stop: stops only what this script started.
 * - status: says what answers; exits 1 if anything does not.
 *
 * Topologies:
 * - single (default): one Redis, one MariaDB, one Kafka broker, at the addresses of
 *   SECKILL_REDIS_URL, SECKILL_MYSQL_URL and SECKILL_KAFKA_BROKERS.
 * - cluster: a 3-master Redis Cluster with a replica each and a 3-node Kafka cluster on their own
 *   ports (./services/cluster.ts), sharing the default MariaDB; start prints the variables that
 *   point the app at it. Its stop leaves MariaDB, which belongs to the default topology, alone.
 */
import {
  clusterEnv,
  forgetRedisClusterNode,
  formRedisCluster,
  kafkaBrokerCount,
  kafkaClusterNodes,
  redisClusterNodes,
  redisClusterSummary,
  waitForKafkaBrokers,
} from './services/cluster.ts';
import { kafkaService } from './services/kafka.ts';
import { mariadbService } from './services/mariadb.ts';
import { redisService } from './services/redis.ts';
import { ensure, type Service, status, stop } from './services/service.ts';
import { parseCommandLine } from './command-line.ts';

type Action = 'start' | 'stop' | 'status';

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Ensures each service in order; false (after printing why) at the first that cannot be had. */
async function ensureInOrder(services: Service[]): Promise<boolean> {
  for (const service of services) {
    try {
      console.log(`${service.name}: ${await ensure(service)}`);
    } catch (error) {
      console.error(`${service.name}: FAILED: ${message(error)}`);
      return false;
    }
  }
  return true;
}

/**
 * Ensures the nodes of one cluster together: a Kafka node cannot answer before a majority of the
 * quorum runs, so starting them one after another would wait on itself.
 */
async function ensureTogether(nodes: Service[]): Promise<boolean> {
  const results = await Promise.allSettled(nodes.map((node) => ensure(node)));
  let ok = true;
  results.forEach((result, i) => {
    const name = nodes[i]!.name;
    if (result.status === 'fulfilled') console.log(`${name}: ${result.value}`);
    else {
      console.error(`${name}: FAILED: ${message(result.reason)}`);
      ok = false;
    }
  });
  return ok;
}

async function printStatus(services: Service[]): Promise<boolean> {
  let allOk = true;
  for (const service of services) {
    const { line, ok } = await status(service);
    console.log(`${service.name}: ${line}`);
    allOk &&= ok;
  }
  return allOk;
}

async function single(action: Action): Promise<number> {
  const services = [redisService(), mariadbService(), kafkaService()];
  if (action === 'start') return (await ensureInOrder(services)) ? 0 : 1;
  if (action === 'stop') {
    // Reverse start order, the habit that stays right once one service comes to depend on another.
    for (const service of services.reverse()) console.log(`${service.name}: ${await stop(service)}`);
    return 0;
  }
  return (await printStatus(services)) ? 0 : 1;
}

async function cluster(action: Action): Promise<number> {
  const redisNodes = redisClusterNodes();
  const kafkaNodes = kafkaClusterNodes();
  if (action === 'start') {
    if (!(await ensureInOrder([mariadbService()]))) return 1;
    if (!(await ensureTogether(redisNodes))) return 1;
    try {
      console.log(`redis-cluster: ${await formRedisCluster(redisNodes)}`);
    } catch (error) {
      console.error(`redis-cluster: FAILED: ${message(error)}`);
      return 1;
    }
    if (!(await ensureTogether(kafkaNodes))) return 1;
    try {
      await waitForKafkaBrokers(kafkaNodes);
      console.log(`kafka-cluster: ${kafkaNodes.length} brokers registered`);
    } catch (error) {
      console.error(`kafka-cluster: FAILED: ${message(error)}`);
      return 1;
    }
    console.log('\nThe cluster topology is up. Point the app (npm start, npm run demo) at it with:');
    for (const [name, value] of Object.entries(clusterEnv())) console.log(`  export ${name}=${value}`);
    return 0;
  }
  if (action === 'stop') {
    const stopped = await Promise.all([...kafkaNodes, ...redisNodes].map(async (node) => ({ node, line: await stop(node) })));
    for (const { node, line } of stopped) {
      console.log(`${node.name}: ${line}`);
      if (redisNodes.includes(node) && line.startsWith('stopped')) forgetRedisClusterNode(node);
    }
    console.log('mariadb: shared with the default topology; left alone (npm run services -- stop)');
    return 0;
  }
  let ok = await printStatus([mariadbService(), ...redisNodes, ...kafkaNodes]);
  const summary = await redisClusterSummary(redisNodes);
  console.log(`redis-cluster: ${summary.line}`);
  ok &&= summary.ok;
  const brokers = await kafkaBrokerCount(kafkaNodes).catch(() => 0);
  console.log(`kafka-cluster: ${brokers} of ${kafkaNodes.length} brokers registered`);
  ok &&= brokers === kafkaNodes.length;
  return ok ? 0 : 1;
}

const COMMAND = {
  name: 'services',
  usage: `usage: node_modules/.bin/node src/cli/services.ts [start|stop|status] [--topology single|cluster]
       (npm run services -- [start|stop|status] [--topology single|cluster])

Makes sure Redis, MariaDB and Kafka accept connections, so \`npm start\` and \`npm test\` work on a bare
Debian machine without Docker.
  start (default)  idempotent: a service that answers is left alone; one that does not, on a local
                   address, is started here (Redis and MariaDB from Debian's packages, installed with
                   apt-get when missing; Kafka 4.1 in KRaft mode from the jars infra/kafka/pom.xml
                   fetches into .local/)
  stop             stops only what this command started
  status           says what answers; exits 1 if anything does not

  --topology single   (default) one Redis, one MariaDB, one Kafka broker at the addresses below
  --topology cluster  a 3-master Redis Cluster with a replica each (ports 7001-7006) and a 3-node Kafka
                      cluster (brokers 19092-19094), sharing the default MariaDB; start prints the
                      variables that point the app at it

Addresses of the single topology (environment variables, as the app reads them):
  SECKILL_REDIS_URL [redis://127.0.0.1:6379]  SECKILL_MYSQL_URL [mysql://root@127.0.0.1:3306/seckill]
  SECKILL_KAFKA_BROKERS [127.0.0.1:9092]

More: README.md, "Quick start" and "Scaling out".`,
};

function parse(argv: string[]): { action: Action; topology: 'single' | 'cluster' } | string {
  const { positionals, values } = parseCommandLine(COMMAND, {
    args: argv,
    allowPositionals: true,
    options: { topology: { type: 'string', default: 'single' } },
  });
  const action = positionals[0] ?? 'start';
  if (positionals.length > 1 || (action !== 'start' && action !== 'stop' && action !== 'status')) return `unknown action "${positionals.join(' ')}"`;
  if (values.topology !== 'single' && values.topology !== 'cluster') return `unknown topology "${values.topology}"`;
  return { action, topology: values.topology };
}

const args = parse(process.argv.slice(2));
if (typeof args === 'string') {
  console.error(`services: ${args} (services --help shows the usage)`);
  process.exitCode = 2;
} else {
  try {
    process.exitCode = args.topology === 'cluster' ? await cluster(args.action) : await single(args.action);
  } catch (error) {
    // Bad addresses in the environment, or a stop that could not signal its process.
    console.error(message(error));
    process.exitCode = 1;
  }
}
