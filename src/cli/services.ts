/**
 * `npm run services [start|stop|status]`: makes sure Redis, MariaDB and Kafka accept connections at
 * the addresses the app is configured with, so `npm start` and `npm test` work on a bare Debian
 * machine without Docker.
 *
 * - start (default): idempotent. A service that answers its protocol is left alone ("found"). One
 *   that does not, on a local address, is started here: Redis and MariaDB from Debian's packages
 *   (installed with apt-get when missing), Kafka as a real Apache Kafka 4.1 KRaft broker run from
 *   the jars infra/kafka/pom.xml fetches. Whatever this script starts records its pid in
 *   .local/<service>/<service>.pid and its address beside it in <service>.address; that is how
 *   `stop` knows what is ours, and how a second run knows not to start another.
 * - stop: stops only what this script started.
 * - status: says what answers; exits 1 if anything does not.
 *
 * The addresses are parsed here, minimally, instead of through src/config.ts: this script must run
 * before the app is configured or even compiles, and only needs host and port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';

const ROOT = resolve(import.meta.dirname, '../..');
const LOCAL = join(ROOT, '.local');
const KAFKA_INFRA = join(ROOT, 'infra/kafka');
const KAFKA_LIBS = join(LOCAL, 'kafka/libs');
const KAFKA_DATA = join(LOCAL, 'kafka/data');
const KAFKA_PROPERTIES = join(LOCAL, 'kafka/server.properties');
const MARIADB_DATADIR = '/var/lib/mysql';

/** Per probe; a local service that is up answers in milliseconds. */
const PROBE_TIMEOUT_MS = 3000;
const STOP_TIMEOUT_MS = 30_000;

interface Endpoint {
  host: string;
  port: number;
}

interface Service {
  name: string;
  endpoint: Endpoint;
  /** Resolves when the service answers its own protocol at `endpoint`; rejects with the reason otherwise. */
  probe(): Promise<void>;
  /** Gets everything a start needs (binaries, jars, data directories); may take a while the first time. */
  prepare(): void;
  /** Starts a local copy in the background and returns its pid. */
  start(): Promise<number>;
  /** What the recorded pid's command line must contain, so a recycled pid is never taken for ours. */
  program: string;
  startTimeoutMs: number;
}

// ---------------------------------------------------------------------------------------------
// Addresses

function env(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  return value ? value : fallback;
}

/** For a Redis cluster or a list of Kafka brokers, the first node answering is enough here. */
function firstOf(list: string): string {
  return list.split(',')[0]!.trim();
}

function parseUrl(variable: string, text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error(`${variable} is not a valid URL: "${text}"`);
  }
}

function endpointOf(url: URL, defaultPort: number): Endpoint {
  // URL keeps IPv6 hosts in brackets; sockets want them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : defaultPort };
}

function address({ host, port }: Endpoint): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Only a service meant to be on this machine can be started by this script. */
function isLocal(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Runs a command to completion and returns its stdout; throws with the tail of its output if it fails. */
function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-5).join('\n');
    throw new Error(`\`${command} ${args.join(' ')}\` failed (${result.status ?? result.signal}):\n${tail}`);
  }
  return result.stdout;
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root: run this as root, or start it yourself`);
}

/** Looks in the sbin directories too: a non-root PATH usually lacks them, and mariadbd lives there. */
function findCommand(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.map((dir) => join(dir, command)).find((file) => existsSync(file));
}

/** The path of `command`, installing Debian package `pkg` first when it is missing. */
function ensureCommand(command: string, pkg: string): string {
  const found = findCommand(command);
  if (found) return found;
  requireRoot(`installing ${pkg}`);
  console.error(`installing ${pkg} with apt-get...`);
  const install = ['DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', pkg];
  try {
    run('env', install);
  } catch {
    // A fresh image has no package lists yet; fetching them every time would be slow.
    run('apt-get', ['update']);
    run('env', install);
  }
  const installed = findCommand(command);
  if (!installed) throw new Error(`installed ${pkg}, but still no ${command} on PATH`);
  return installed;
}

function pidFile(service: Service): string {
  return join(LOCAL, service.name, `${service.name}.pid`);
}

function addressFile(service: Service): string {
  return join(LOCAL, service.name, `${service.name}.address`);
}

function logFile(service: Service): string {
  return join(LOCAL, service.name, `${service.name}.log`);
}

/**
 * Reads /proc rather than signalling with kill(pid, 0): a recycled pid, or a zombie left behind
 * (a container's init may not reap detached children), must not count as our service running.
 */
function runs(pid: number, program: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(program);
  } catch {
    return false;
  }
}

interface Owned {
  pid: number;
  /** Where it was started to listen, which the current environment may no longer ask for. */
  at: string;
}

/** The copy of `service` this script started, if that process is still running. */
function owned(service: Service): Owned | undefined {
  if (!existsSync(pidFile(service))) return undefined;
  const pid = Number(readFileSync(pidFile(service), 'utf8').trim());
  if (!Number.isInteger(pid) || !runs(pid, service.program)) return undefined;
  const at = existsSync(addressFile(service)) ? readFileSync(addressFile(service), 'utf8').trim() : '?';
  return { pid, at };
}

/** Starts `command` in its own session, output appended to the service's log, so it outlives this script. */
async function spawnDetached(service: Service, command: string, args: string[]): Promise<number> {
  const log = openSync(logFile(service), 'a');
  try {
    const child = spawn(command, args, { cwd: join(LOCAL, service.name), detached: true, stdio: ['ignore', log, log] });
    await once(child, 'spawn');
    child.unref();
    const pid = child.pid!;
    writeFileSync(pidFile(service), `${pid}\n`);
    writeFileSync(addressFile(service), `${address(service.endpoint)}\n`);
    return pid;
  } finally {
    closeSync(log);
  }
}

async function attempt(probe: () => Promise<void>): Promise<Error | undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function waitUntilAnswering(service: Service, pid: number): Promise<void> {
  const deadline = Date.now() + service.startTimeoutMs;
  const log = relative(process.cwd(), logFile(service));
  for (;;) {
    const failure = await attempt(() => service.probe());
    if (!failure) return;
    if (!runs(pid, service.program)) throw new Error(`pid ${pid} exited while starting; see ${log}`);
    if (Date.now() > deadline) {
      throw new Error(`pid ${pid} did not answer within ${service.startTimeoutMs / 1000} s (${failure.message}); see ${log}`);
    }
    await sleep(500);
  }
}

async function waitUntilGone(pid: number, program: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (runs(pid, program)) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

function tcpAnswers({ host, port }: Endpoint): Promise<boolean> {
  return new Promise((settle) => {
    const socket = connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    const done = (open: boolean) => {
      socket.destroy();
      settle(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Redis

function redisService(): Service {
  const variable = 'SECKILL_REDIS_URL';
  const first = firstOf(env(variable, 'redis://127.0.0.1:6379'));
  const url = parseUrl(variable, first.includes('://') ? first : `redis://${first}`);
  const endpoint = endpointOf(url, 6379);
  let server = '';
  const service: Service = {
    name: 'redis',
    endpoint,
    program: 'redis-server',
    startTimeoutMs: 30_000,
    probe: () => probeRedis(url.toString()),
    prepare: () => {
      server = ensureCommand('redis-server', 'redis-server');
    },
    // Not --daemonize: a child spawned detached gives its pid directly, and stdout is the log.
    start: () =>
      spawnDetached(service, server, [
        '--bind',
        endpoint.host === 'localhost' ? '127.0.0.1' : endpoint.host,
        '--port',
        String(endpoint.port),
        // A scratch cache for development: no snapshots, no append-only file.
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        join(LOCAL, 'redis'),
      ]),
  };
  return service;
}

async function probeRedis(url: string): Promise<void> {
  // One attempt that fails fast: no reconnecting, no queueing, no ready check (which has no timeout).
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
  });
  // The socket's own error (e.g. ECONNREFUSED) says more than the "Connection is closed." that
  // connect() rejects with; listening also keeps ioredis from printing it.
  let socketError: Error | undefined;
  client.on('error', (error: Error) => {
    socketError = error;
  });
  try {
    await client.connect();
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`PING answered "${reply}"`);
  } catch (error) {
    throw socketError ?? error;
  } finally {
    client.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// MariaDB

function mariadbService(): Service {
  const url = parseUrl('SECKILL_MYSQL_URL', env('SECKILL_MYSQL_URL', 'mysql://root@127.0.0.1:3306/seckill'));
  const endpoint = endpointOf(url, 3306);
  let server = '';
  const service: Service = {
    name: 'mariadb',
    endpoint,
    program: 'mariadbd',
    startTimeoutMs: 30_000,
    probe: () => probeMariadb(url, endpoint),
    prepare: () => {
      server = ensureCommand('mariadbd', 'mariadb-server');
      requireRoot('starting MariaDB');
      prepareMariadbDatadir();
    },
    start: () =>
      spawnDetached(service, server, [
        `--port=${endpoint.port}`,
        `--bind-address=${endpoint.host}`,
        // Errors to stderr, i.e. our log, instead of Debian's /var/log/mysql/error.log.
        '--skip-log-error',
      ]),
  };
  return service;
}

function prepareMariadbDatadir(): void {
  if (!existsSync(join(MARIADB_DATADIR, 'mysql'))) {
    // "normal" gives root a password-less login over TCP, as the default SECKILL_MYSQL_URL expects
    // (Debian's default, unix_socket, only admits root over the local socket).
    run(ensureCommand('mariadb-install-db', 'mariadb-server'), [
      '--user=mysql',
      `--datadir=${MARIADB_DATADIR}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
  }
  // The socket and pid directory; on a booted system the init script creates it.
  run('install', ['-d', '-o', 'mysql', '-g', 'mysql', '/run/mysqld']);
}

async function probeMariadb(url: URL, { host, port }: Endpoint): Promise<void> {
  // No database selected: creating it is the migrations' job (src/db/migrate.ts).
  const connection = await createConnection({
    host,
    port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    connectTimeout: PROBE_TIMEOUT_MS,
  });
  try {
    await connection.query('SELECT 1');
  } finally {
    await connection.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka

function kafkaService(): Service {
  const variable = 'SECKILL_KAFKA_BROKERS';
  const endpoint = endpointOf(parseUrl(variable, `kafka://${firstOf(env(variable, '127.0.0.1:9092'))}`), 9092);
  let java = '';
  const service: Service = {
    name: 'kafka',
    endpoint,
    program: 'kafka.Kafka',
    // The JVM start and the first metadata load take a few seconds; a cold machine, more.
    startTimeoutMs: 60_000,
    probe: () => probeKafka(endpoint),
    prepare: () => {
      java = ensureCommand('java', 'default-jre-headless');
      fetchKafkaJars();
      writeKafkaConfig(endpoint);
      formatKafkaStorage(java);
    },
    start: () =>
      spawnDetached(service, java, [
        '-Xmx512m',
        '-Xms256m',
        '-XX:+UseG1GC',
        ...kafkaJavaArgs(),
        'kafka.Kafka',
        KAFKA_PROPERTIES,
      ]),
  };
  return service;
}

async function probeKafka(endpoint: Endpoint): Promise<void> {
  const admin = new Admin({
    clientId: 'seckill-services',
    bootstrapBrokers: [address(endpoint)],
    connectTimeout: PROBE_TIMEOUT_MS,
    requestTimeout: PROBE_TIMEOUT_MS,
    timeout: PROBE_TIMEOUT_MS,
    retries: 0,
  });
  try {
    await admin.metadata({ topics: [] });
  } finally {
    await admin.close();
  }
}

function kafkaJavaArgs(): string[] {
  return ['-cp', `${KAFKA_LIBS}/*`, `-Dlog4j2.configurationFile=${join(KAFKA_INFRA, 'log4j2.xml')}`];
}

/** Once per checkout: later runs reuse .local/kafka/libs. */
function fetchKafkaJars(): void {
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

/** Rewritten on every start, so a changed SECKILL_KAFKA_BROKERS takes effect. */
function writeKafkaConfig({ host, port }: Endpoint): void {
  const values: Record<string, string> = {
    HOST: host,
    PORT: String(port),
    CONTROLLER_PORT: String(port + 1),
    DATA_DIR: KAFKA_DATA,
  };
  const template = readFileSync(join(KAFKA_INFRA, 'server.properties.template'), 'utf8');
  const config = template.replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`server.properties.template: unknown placeholder ${placeholder}`);
    return value;
  });
  writeFileSync(KAFKA_PROPERTIES, config);
}

/** KRaft needs its log directory formatted with a cluster id once; later runs reuse the data. */
function formatKafkaStorage(java: string): void {
  if (existsSync(join(KAFKA_DATA, 'meta.properties'))) return;
  const clusterId = run(java, [...kafkaJavaArgs(), 'kafka.tools.StorageTool', 'random-uuid']).trim();
  if (!/^[\w-]{22}$/.test(clusterId)) throw new Error(`StorageTool random-uuid printed "${clusterId}", not a cluster id`);
  // No --standalone: it conflicts with the static controller.quorum.voters of the config.
  run(java, [...kafkaJavaArgs(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', KAFKA_PROPERTIES]);
}

// ---------------------------------------------------------------------------------------------
// Actions

function ownership(service: Service, ours: Owned | undefined): string {
  if (ours === undefined) return '';
  if (ours.at === address(service.endpoint)) return ` (pid ${ours.pid}, started by this script)`;
  return ` (this script's ${service.name}, pid ${ours.pid}, runs at ${ours.at})`;
}

/** Returns the line to print for `service`, or throws why it cannot be had. */
async function ensure(service: Service): Promise<string> {
  const at = address(service.endpoint);
  const failure = await attempt(() => service.probe());
  const ours = owned(service);
  if (!failure) return `found at ${at}${ownership(service, ours)}`;
  if (ours !== undefined && ours.at === at) {
    // Started by an earlier run that gave up waiting, or by a concurrent one: never start a second.
    await waitUntilAnswering(service, ours.pid);
    return `found at ${at}${ownership(service, ours)}`;
  }
  if (await tcpAnswers(service.endpoint)) {
    throw new Error(`${at} accepts TCP connections, but the ${service.name} check failed: ${failure.message}`);
  }
  if (!isLocal(service.endpoint.host)) {
    throw new Error(`nothing answers at ${at} (${failure.message}), and only a local address can be started here`);
  }
  if (ours !== undefined) {
    // Its pid file and data directory would be shared with a second copy.
    throw new Error(`the ${service.name} this script started (pid ${ours.pid}) runs at ${ours.at}, not ${at}; stop it first (npm run services -- stop)`);
  }
  mkdirSync(join(LOCAL, service.name), { recursive: true });
  service.prepare();
  // Debian's package scripts start the service they install; a Kafka may have come up meanwhile.
  if (!(await attempt(() => service.probe()))) return `found at ${at}`;
  const pid = await service.start();
  await waitUntilAnswering(service, pid);
  return `started at ${at} (pid ${pid})`;
}

async function stop(service: Service): Promise<string> {
  const ours = owned(service);
  if (ours !== undefined) {
    process.kill(ours.pid, 'SIGTERM');
    if (!(await waitUntilGone(ours.pid, service.program, STOP_TIMEOUT_MS))) {
      process.kill(ours.pid, 'SIGKILL');
      await waitUntilGone(ours.pid, service.program, 5000);
    }
  }
  rmSync(pidFile(service), { force: true });
  rmSync(addressFile(service), { force: true });
  return ours === undefined ? 'not started by this script; left alone' : `stopped at ${ours.at} (pid ${ours.pid})`;
}

async function status(service: Service): Promise<{ line: string; ok: boolean }> {
  const at = address(service.endpoint);
  const failure = await attempt(() => service.probe());
  const ours = ownership(service, owned(service));
  if (failure) return { line: `not answering at ${at}${ours}: ${failure.message}`, ok: false };
  return { line: `answers at ${at}${ours}`, ok: true };
}

async function main(action: string): Promise<number> {
  const services = [redisService(), mariadbService(), kafkaService()];
  if (action === 'start') {
    for (const service of services) {
      try {
        console.log(`${service.name}: ${await ensure(service)}`);
      } catch (error) {
        console.error(`${service.name}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
        return 1;
      }
    }
    return 0;
  }
  if (action === 'stop') {
    // Reverse start order, the habit that stays right once one service comes to depend on another.
    for (const service of services.reverse()) console.log(`${service.name}: ${await stop(service)}`);
    return 0;
  }
  let allOk = true;
  for (const service of services) {
    const { line, ok } = await status(service);
    console.log(`${service.name}: ${line}`);
    allOk &&= ok;
  }
  return allOk ? 0 : 1;
}

const action = process.argv[2] ?? 'start';
if (action !== 'start' && action !== 'stop' && action !== 'status') {
  console.error(`usage: node src/cli/services.ts [start|stop|status] (got "${action}")`);
  process.exitCode = 2;
} else {
  try {
    process.exitCode = await main(action);
  } catch (error) {
    // Bad addresses in the environment, or a stop that could not signal its process.
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
