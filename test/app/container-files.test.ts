/**
 * compose.yaml and the Dockerfile, checked without a container engine (there is none here; the
 * opt-in `make container-test` builds and runs the image with podman). What is checked is what
 * would break a deployment silently: the service's environment must pass the service's own
 * configuration validation and name every variable it reads, dependencies must be healthy before
 * it starts, data must live in named volumes, the Kafka broker must be a consistent single-node
 * KRaft setup, and the image must run unprivileged with the server as the signal-receiving process.
 */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import { loadConfig } from '../../src/config.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed YAML document of any shape.
type Json = any;

function loadCompose(): Json {
  const document = parseDocument(read('compose.yaml'), { uniqueKeys: true });
  assert.deepEqual(document.errors, [], 'compose.yaml parses');
  assert.deepEqual(document.warnings, [], 'compose.yaml parses without warnings');
  return document.toJS();
}

/**
 * Compose's variable interpolation (`${X}`, `${X:-d}`, `${X-d}`, `${X:?e}`, `${X?e}`, `$$`), enough
 * to see the values the service would get from `vars`.
 */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name?: string, op?: string, arg?: string) => {
    if (name === undefined) return '$';
    const set = vars[name];
    const usable = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined;
    if (usable) return set as string;
    if (op?.endsWith('?')) throw new Error(`required variable ${name}: ${arg ?? ''}`);
    if (op?.endsWith('-')) return arg ?? '';
    return '';
  });
}

const SECRETS = {
  SECKILL_JWT_SECRET: 'compose-test-jwt-secret-0123456789',
  SECKILL_ADMIN_TOKEN: 'compose-test-admin-token',
  SECKILL_PAYMENT_SECRET: 'compose-test-payment-secret',
  SECKILL_MYSQL_PASSWORD: 'compose-test-mysql-password',
};

function serviceEnv(service: Json, vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(service.environment ?? {})) env[name] = interpolate(String(value), vars);
  return env;
}

test('compose.yaml: the service starts after healthy Redis, MariaDB and Kafka, with data in named volumes', () => {
  const compose = loadCompose();
  const services = compose.services as Record<string, Json>;
  assert.deepEqual(Object.keys(services).sort(), ['kafka', 'mariadb', 'redis', 'seckill']);
  for (const dependency of ['redis', 'mariadb', 'kafka']) {
    assert.equal(services.seckill.depends_on?.[dependency]?.condition, 'service_healthy', `seckill waits for a healthy ${dependency}`);
    assert.ok(Array.isArray(services[dependency].healthcheck?.test), `${dependency} has a healthcheck`);
    const mounts: string[] = services[dependency].volumes ?? [];
    const named = mounts.map((m) => m.split(':')[0] ?? '').filter((source) => /^[a-z][\w.-]*$/.test(source));
    assert.equal(named.length, 1, `${dependency} keeps its data in one named volume`);
    assert.ok(named[0] !== undefined && named[0] in (compose.volumes ?? {}), `volume ${named[0]} is declared`);
  }
  assert.equal(services.seckill.build?.context, '.');
  assert.equal(services.seckill.init, true, 'an init process forwards SIGTERM and reaps');
  assert.ok((services.seckill.ports as string[]).some((p) => p.endsWith(':8080')), 'publishes 8080');
  assert.ok((services.seckill.ports as string[]).some((p) => p.startsWith('127.0.0.1:') && p.endsWith(':9090')), 'publishes the ops port on loopback only');
});

test('compose.yaml: the service environment passes the service config, names every variable it reads, requires the secrets', () => {
  const services = loadCompose().services as Record<string, Json>;
  const env = serviceEnv(services.seckill, SECRETS);

  // Every variable the service reads appears in compose (and nothing it does not read): the file
  // stays complete as variables are added.
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  const config = loadConfig(recording);
  assert.deepEqual(Object.keys(env).filter((name) => !read.has(name)), [], 'compose sets only variables the service reads');
  assert.deepEqual([...read].filter((name) => !(name in env)).sort(), [], 'compose passes every variable the service reads');

  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.port, 8080);
  assert.deepEqual(config.ops, { port: 9090, host: '0.0.0.0' }, 'the ops endpoints have their own listener');
  assert.deepEqual(config.devDefaults, [], 'no secret is left at its development default');
  assert.equal(config.jwtSecret, SECRETS.SECKILL_JWT_SECRET);
  assert.deepEqual(config.kafka.brokers, ['kafka:9092']);
  assert.equal(new URL(config.redis.nodes[0] ?? '').host, 'redis:6379');
  const mysql = new URL(config.mysql.url);
  assert.equal(mysql.host, 'mariadb:3306');
  assert.equal(config.mysql.database, 'seckill');
  const mariadb = serviceEnv(services.mariadb, SECRETS);
  assert.equal(decodeURIComponent(mysql.username), mariadb.MARIADB_USER);
  assert.equal(decodeURIComponent(mysql.password), mariadb.MARIADB_PASSWORD);
  assert.equal(mariadb.MARIADB_DATABASE, 'seckill');

  // Unset tuning variables reach the service empty, which means "your documented default".
  assert.equal(env.SECKILL_RATE_USER_PER_SEC, '');
  assert.equal(config.rate.userPerSec, loadConfig({}).rate.userPerSec);

  for (const secret of Object.keys(SECRETS)) {
    const missing: Record<string, string> = { ...SECRETS };
    delete missing[secret];
    assert.throws(() => serviceEnv(services.seckill, missing), new RegExp(`required variable ${secret}`), `${secret} is required`);
  }
});

test('compose.yaml: Kafka is a consistent single-node 4.1 KRaft broker the service can reach', () => {
  const services = loadCompose().services as Record<string, Json>;
  const kafka = services.kafka;
  assert.match(interpolate(kafka.image, {}), /^apache\/kafka:4\.1\./);
  const env = serviceEnv(kafka, {});
  assert.deepEqual(env.KAFKA_PROCESS_ROLES?.split(',').sort(), ['broker', 'controller']);
  assert.equal(Buffer.from(env.CLUSTER_ID ?? '', 'base64url').length, 16, 'CLUSTER_ID is a base64url UUID');
  assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, `${env.KAFKA_NODE_ID}@kafka:9093`);
  assert.match(env.KAFKA_LISTENERS ?? '', /CONTROLLER:\/\/:9093/);
  assert.match(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? '', new RegExp(`${env.KAFKA_CONTROLLER_LISTENER_NAMES}:PLAINTEXT`));
  // Clients are told to come back to the advertised address: it must be the one the service uses.
  assert.equal(env.KAFKA_ADVERTISED_LISTENERS, `PLAINTEXT://${serviceEnv(services.seckill, SECRETS).SECKILL_KAFKA_BROKERS}`);
  assert.equal(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '1', 'one broker: internal topics with one replica');
  assert.ok((kafka.volumes as string[]).some((m) => m.endsWith(`:${env.KAFKA_LOG_DIRS}`)), 'the log dirs are the volume');
});

const DIGEST = /^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$/;

test('compose.yaml: every image pinned by digest where an official digest is known; each one variable', () => {
  const compose = loadCompose();
  const services = compose.services as Record<string, Json>;
  for (const name of ['redis', 'mariadb', 'kafka']) {
    assert.match(services[name].image, /^\$\{SECKILL_[A-Z]+_IMAGE:-[^}]+\}$/, `${name}: the image is one variable with a default`);
  }
  assert.match(interpolate(services.redis.image, {}), DIGEST, 'redis: tag@sha256:digest');
  assert.match(interpolate(services.mariadb.image, {}), DIGEST, 'mariadb: tag@sha256:digest');
  // apache/kafka is not an official library image and no official record of its digest was found:
  // an exact version tag, and the README says so (an operator pins it through SECKILL_KAFKA_IMAGE).
  assert.match(interpolate(services.kafka.image, {}), /^apache\/kafka:\d+\.\d+\.\d+$/);
  assert.ok(/apache\/kafka[^\n]*(\n[^\n]+){0,3}SECKILL_KAFKA_IMAGE/.test(read('README.md')), 'the README explains the Kafka image is pinned by tag only');
  assert.equal(interpolate(services.redis.image, { SECKILL_REDIS_IMAGE: 'redis:8' }), 'redis:8', 'the variable overrides it');

  // The service's own bases: the compose defaults are the Dockerfile's, both pinned.
  const args = services.seckill.build?.args ?? {};
  const defaults = dockerfileArgs();
  for (const [arg, variable] of [
    ['BASE_IMAGE', 'SECKILL_BASE_IMAGE'],
    ['RUNTIME_IMAGE', 'SECKILL_RUNTIME_IMAGE'],
  ]) {
    assert.match(defaults[arg as string] ?? '', DIGEST, `Dockerfile ARG ${arg} is pinned by digest`);
    assert.equal(interpolate(args[arg as string] ?? '', {}), defaults[arg as string], `compose's ${arg} default is the Dockerfile's`);
    assert.equal(interpolate(args[arg as string] ?? '', { [variable as string]: 'x:y' }), 'x:y', `${variable} overrides ${arg}`);
  }
});

test('compose.yaml: every container has CPU and memory limits and rotated logs', () => {
  const services = loadCompose().services as Record<string, Json>;
  const bytes = (text: string) => {
    const m = /^(\d+(?:\.\d+)?)([kmg])?b?$/i.exec(text);
    assert.ok(m, `a memory size: ${text}`);
    return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] ?? ' ').toLowerCase());
  };
  for (const [name, service] of Object.entries(services)) {
    const limits = service.deploy?.resources?.limits;
    assert.ok(Number(limits?.cpus) > 0, `${name}: a CPU limit`);
    assert.ok(bytes(String(limits?.memory ?? '')) >= 256 * 1024 ** 2, `${name}: a memory limit of at least 256 MB`);
    assert.equal(service.logging?.driver, 'json-file', `${name}: logs through json-file`);
    assert.match(String(service.logging?.options?.['max-size'] ?? ''), /^\d+[kmg]$/, `${name}: logs rotated by size`);
    assert.ok(Number(service.logging?.options?.['max-file']) >= 2, `${name}: a bounded number of log files`);
  }
  // Node sizes its default process count by the cores it sees, not by the CPU quota.
  const env = serviceEnv(services.seckill, SECRETS);
  assert.equal(Number(env.SECKILL_API_PROCESSES), Number(services.seckill.deploy.resources.limits.cpus), 'one API process per CPU of the limit');
  assert.equal(loadConfig(env).apiProcesses, Number(services.seckill.deploy.resources.limits.cpus));
});

/** KEY=value lines of a dotenv file (comments and blank lines skipped). */
function dotenv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    assert.ok(m, `.env.example: "${line}" is KEY=value`);
    assert.ok(!vars.has(m[1] as string), `.env.example: ${m[1]} once`);
    vars.set(m[1] as string, m[2] as string);
  }
  return vars;
}

test('.env.example lists every variable compose reads, each with a comment, secrets left empty', () => {
  const text = read('.env.example');
  const example = dotenv(text);
  const interpolated = new Set([...read('compose.yaml').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string));
  assert.deepEqual([...example.keys()].sort(), [...interpolated].sort(), '.env.example names exactly the variables compose.yaml reads');
  const lines = text.split('\n');
  for (const name of example.keys()) {
    const at = lines.findIndex((l) => l.startsWith(`${name}=`));
    // A comment right above it, or above the group of variables it belongs to.
    const above = lines.slice(0, at).reverse().find((l) => !/^[A-Z_]+=/.test(l));
    assert.match(above ?? '', /^# \S/, `${name}: a comment says what it is`);
  }
  // Copied unchanged, it cannot start a deployment on a placeholder secret: compose refuses.
  for (const secret of Object.keys(SECRETS)) assert.equal(example.get(secret), '', `${secret} is empty in the template`);
  const vars = Object.fromEntries(example);
  assert.throws(() => serviceEnv(loadCompose().services.seckill, vars), /required variable SECKILL_/);
  // Filled in, the rest of the template leaves the service at its own defaults.
  const env = serviceEnv(loadCompose().services.seckill, { ...vars, ...SECRETS });
  const config = loadConfig(env);
  assert.deepEqual(config.devDefaults, []);
  assert.equal(config.rate.userPerSec, loadConfig({}).rate.userPerSec);
  assert.ok(read('.gitignore').split('\n').includes('.env'), '.env (the real secrets) is git-ignored');
  assert.ok(read('.dockerignore').split('\n').includes('.env'), '.env stays out of the build context');
});

/** The Dockerfile's global ARG defaults (before the first FROM). */
function dockerfileArgs(): Record<string, string> {
  const args: Record<string, string> = {};
  for (const line of dockerfile()) {
    if (line.instruction === 'FROM') break;
    const m = /^([A-Z_]+)=(.*)$/.exec(line.args);
    if (line.instruction === 'ARG' && m) args[m[1] as string] = m[2] as string;
  }
  return args;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerfile(): { instruction: string; args: string }[] {
  const text = read('Dockerfile')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [instruction = '', ...rest] = line.split(/\s+/);
      return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
    });
}

test('Dockerfile: a build stage, then an unprivileged runtime whose server process receives SIGTERM', () => {
  const lines = dockerfile();
  assert.equal(lines[0]?.instruction, 'ARG', 'the base images are build arguments');
  assert.deepEqual(Object.keys(dockerfileArgs()).sort(), ['BASE_IMAGE', 'RUNTIME_IMAGE']);
  const froms = lines.filter((l) => l.instruction === 'FROM');
  assert.deepEqual(
    froms.map((l) => l.args),
    ['${BASE_IMAGE} AS build', '${RUNTIME_IMAGE} AS runtime'],
  );
  const runtime = lines.slice(lines.findIndex((l) => l.args === '${RUNTIME_IMAGE} AS runtime'));
  const value = (instruction: string) => runtime.filter((l) => l.instruction === instruction).at(-1)?.args;
  assert.ok(runtime.some((l) => l.instruction === 'COPY' && l.args.includes('--from=build /app/web')), 'web pages come from the build stage');
  assert.doesNotMatch(value('USER') ?? 'root', /^(root|0)(:|$)/, 'runs as a non-root user');
  assert.equal(value('EXPOSE'), '8080 9090');
  assert.match(value('ENV') ?? '', /HOST=0\.0\.0\.0/);
  assert.match(value('ENV') ?? '', /SECKILL_OPS_PORT=9090/);
  assert.match(value('HEALTHCHECK') ?? '', /\/healthz/);
  // Exec form: the server is the process the runtime signals, not a shell around it.
  const cmd = JSON.parse(value('CMD') ?? 'null') as string[];
  assert.deepEqual(cmd, ['/app/node_modules/.bin/node', 'src/cli/serve.ts']);
  assert.ok(!runtime.some((l) => l.instruction === 'ENTRYPOINT'), 'no entrypoint wraps the server');
});

test('Dockerfile: one Node in the runtime image, the one the project installs', () => {
  const lines = dockerfile();
  const runtime = lines.slice(lines.findIndex((l) => l.args === '${RUNTIME_IMAGE} AS runtime'));
  // The runtime base is a plain Debian: the official Node image would bring a second node.
  assert.match(dockerfileArgs().RUNTIME_IMAGE ?? '', /^debian:/);
  assert.doesNotMatch(dockerfileArgs().RUNTIME_IMAGE ?? '', /node/);
  assert.match(dockerfileArgs().BASE_IMAGE ?? '', /^node:24\./, 'the build stage has npm (the official Node image)');
  // Everything that runs node in the runtime names the project's, and it comes first on PATH.
  for (const l of runtime.filter((x) => ['CMD', 'HEALTHCHECK', 'RUN'].includes(x.instruction))) {
    const nodes = [...l.args.matchAll(/(\S*)\bnode"?[,\s]/g)].map((m) => m[1]);
    for (const prefix of nodes) assert.ok(prefix?.endsWith('node_modules/.bin/') || prefix === '"/app/node_modules/.bin/', `${l.instruction} runs ${prefix}node`);
  }
  assert.match(runtime.filter((l) => l.instruction === 'ENV').map((l) => l.args).join(' '), /PATH=\/app\/node_modules\/\.bin:\$PATH/);
});

test('Dockerfile: OCI labels, the version from package.json', () => {
  const lines = dockerfile();
  const runtime = lines.slice(lines.findIndex((l) => l.args === '${RUNTIME_IMAGE} AS runtime'));
  const labels = runtime.filter((l) => l.instruction === 'LABEL').map((l) => l.args).join(' ');
  for (const key of ['title', 'description', 'version', 'revision', 'created', 'base.name']) {
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key.replace('.', '\\.')}="`), `label org.opencontainers.image.${key}`);
  }
  const arg = (name: string) => runtime.find((l) => l.instruction === 'ARG' && l.args.startsWith(`${name}=`))?.args.slice(name.length + 1);
  const pkg = JSON.parse(read('package.json')) as { version: string };
  assert.equal(arg('VERSION'), pkg.version, 'ARG VERSION follows package.json');
  assert.match(labels, /org\.opencontainers\.image\.version="\$\{VERSION\}"/);
  assert.match(labels, /org\.opencontainers\.image\.base\.name="\$\{RUNTIME_IMAGE\}"/);
  const compose = loadCompose().services.seckill.build.args as Record<string, string>;
  assert.equal(interpolate(compose.REVISION ?? '', { SECKILL_IMAGE_REVISION: 'abc123' }), 'abc123', 'compose passes the revision');
  assert.equal(interpolate(compose.CREATED ?? '', { SECKILL_IMAGE_CREATED: '2026-11-21T12:00:00Z' }), '2026-11-21T12:00:00Z', 'compose passes the creation time');
});
