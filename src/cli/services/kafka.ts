/**
 * Kafka as a managed service: a real Apache Kafka 4.1 node in KRaft mode (broker and controller in
 * one `java` process) run from the jars infra/kafka/pom.xml fetches into .local/kafka/libs. One
 * function builds any node — the default topology's single broker, a member of the 3-node cluster
 * (./cluster.ts), or a test's own broker on other ports:
 *
 *   const node = kafkaNode({ name: 'kafka-f', dir: join(LOCAL, 'faults/kafka'), endpoint: { host: '127.0.0.1', port: 29092 },
 *                            template: SINGLE_NODE_TEMPLATE, values: { CONTROLLER_PORT: '29093' } });
 *   await ensure(node); ... await stop(node);
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { endpointOf, env, firstOf, parseUrl } from './addresses.ts';
import { address, type Endpoint, ensureCommand, LOCAL, PROBE_TIMEOUT_MS, ROOT, run } from './process.ts';
import { type Service, startDetached } from './service.ts';

const KAFKA_INFRA = join(ROOT, 'infra/kafka');
/** Shared by every node: fetched once per checkout. */
export const KAFKA_LIBS = join(LOCAL, 'kafka/libs');
/** One broker+controller with a quorum of itself; placeholders HOST, PORT, CONTROLLER_PORT, DATA_DIR. */
export const SINGLE_NODE_TEMPLATE = join(KAFKA_INFRA, 'server.properties.template');
/** A member of a multi-node quorum; adds NODE_ID and QUORUM_VOTERS. */
export const CLUSTER_NODE_TEMPLATE = join(KAFKA_INFRA, 'cluster-node.properties.template');

export interface KafkaNodeOptions {
  /** Names its pid/address/log files (`<dir>/<name>.pid`). */
  name: string;
  /** Its own directory: server.properties, data/ (the log dirs), pid, address and log files. */
  dir: string;
  /** The client (PLAINTEXT) listener. */
  endpoint: Endpoint;
  /** The properties template (SINGLE_NODE_TEMPLATE or CLUSTER_NODE_TEMPLATE). */
  template: string;
  /** Placeholder values beyond HOST, PORT and DATA_DIR, which come from `endpoint` and `dir`. */
  values: Record<string, string>;
  /**
   * The KRaft cluster id its storage is formatted with, once. Every node of one cluster must share
   * it; a lone node gets a fresh one when left out.
   */
  clusterId?: (java: string) => string;
  /** JVM heap ceiling [512]. */
  heapMb?: number;
  /** The JVM start and the first metadata load take a few seconds; a cold or loaded machine, more [60000]. */
  startTimeoutMs?: number;
}

export function kafkaNode(options: KafkaNodeOptions): Service {
  const { endpoint, dir } = options;
  const properties = join(dir, 'server.properties');
  const dataDir = join(dir, 'data');
  const heapMb = options.heapMb ?? 512;
  let java = '';
  const service: Service = {
    name: options.name,
    dir,
    endpoint,
    program: 'kafka.Kafka',
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    probe: () => probeKafka(endpoint),
    prepare: () => {
      java = ensureCommand('java', 'default-jre-headless');
      fetchKafkaJars();
      // Rewritten on every start, so a changed address takes effect.
      writeKafkaConfig(options.template, properties, { HOST: endpoint.host, PORT: String(endpoint.port), DATA_DIR: dataDir, ...options.values });
      formatKafkaStorage(java, properties, dataDir, options.clusterId);
    },
    start: () =>
      startDetached(service, java, [`-Xmx${heapMb}m`, `-Xms${Math.min(256, heapMb)}m`, '-XX:+UseG1GC', ...kafkaJavaArgs(), 'kafka.Kafka', properties]),
  };
  return service;
}

/** The default topology's broker: the first of SECKILL_KAFKA_BROKERS, controller on its port + 1, files in .local/kafka. */
export function kafkaService(): Service {
  const variable = 'SECKILL_KAFKA_BROKERS';
  const endpoint = endpointOf(parseUrl(variable, `kafka://${firstOf(env(variable, '127.0.0.1:9092'))}`), 9092);
  return kafkaNode({
    name: 'kafka',
    dir: join(LOCAL, 'kafka'),
    endpoint,
    template: SINGLE_NODE_TEMPLATE,
    values: { CONTROLLER_PORT: String(endpoint.port + 1) },
  });
}

/** Resolves when the broker at `endpoint` answers a metadata request. */
export async function probeKafka(endpoint: Endpoint): Promise<void> {
  await withKafkaAdmin([address(endpoint)], (admin) => admin.metadata({ topics: [] }));
}

/** Runs `fn` with a short-lived admin client that fails fast (no retries, probe timeouts). */
export async function withKafkaAdmin<T>(bootstrap: string[], fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({
    clientId: 'seckill-services',
    bootstrapBrokers: bootstrap,
    connectTimeout: PROBE_TIMEOUT_MS,
    requestTimeout: PROBE_TIMEOUT_MS,
    timeout: PROBE_TIMEOUT_MS,
    retries: 0,
  });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** The JVM arguments every Kafka tool and node runs with: the fetched jars, our log4j2 config. */
export function kafkaJavaArgs(): string[] {
  return ['-cp', `${KAFKA_LIBS}/*`, `-Dlog4j2.configurationFile=${join(KAFKA_INFRA, 'log4j2.xml')}`];
}

/** Once per checkout: later runs reuse .local/kafka/libs. */
export function fetchKafkaJars(): void {
  if (existsSync(KAFKA_LIBS) && readdirSync(KAFKA_LIBS).some((file) => /^kafka_2\.13-.*\.jar$/.test(file))) return;
  const mvn = ensureCommand('mvn', 'maven');
  console.error('kafka: fetching the broker jars with Maven (first run only)...');
  // Into a scratch directory first, so an interrupted download never looks like a complete one.
  const partial = `${KAFKA_LIBS}.partial`;
  rmSync(partial, { recursive: true, force: true });
  run(mvn, [
    '-q',
    '-B',
    '-f',
    join(KAFKA_INFRA, 'pom.xml'),
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${partial}`,
  ]);
  rmSync(KAFKA_LIBS, { recursive: true, force: true });
  renameSync(partial, KAFKA_LIBS);
}

/** A fresh KRaft cluster id from Kafka's own StorageTool. */
export function newKafkaClusterId(java: string): string {
  const clusterId = run(java, [...kafkaJavaArgs(), 'kafka.tools.StorageTool', 'random-uuid']).trim();
  if (!/^[\w-]{22}$/.test(clusterId)) throw new Error(`StorageTool random-uuid printed "${clusterId}", not a cluster id`);
  return clusterId;
}

function writeKafkaConfig(template: string, target: string, values: Record<string, string>): void {
  const config = readFileSync(template, 'utf8').replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${template}: unknown placeholder ${placeholder}`);
    return value;
  });
  writeFileSync(target, config);
}

/** KRaft needs its log directory formatted with a cluster id once; later runs reuse the data. */
function formatKafkaStorage(java: string, properties: string, dataDir: string, clusterId?: (java: string) => string): void {
  if (existsSync(join(dataDir, 'meta.properties'))) return;
  const id = clusterId ? clusterId(java) : newKafkaClusterId(java);
  // No --standalone / --initial-controllers: they conflict with the static controller.quorum.voters of the config.
  run(java, [...kafkaJavaArgs(), 'kafka.tools.StorageTool', 'format', '-t', id, '-c', properties]);
}
