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
  assert.match(kafka.image, /^apache\/kafka:4\.1\./);
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
  assert.equal(lines[0]?.instruction, 'ARG', 'the base image is a build argument');
  assert.match(lines[0]?.args ?? '', /^BASE_IMAGE=/);
  const froms = lines.filter((l) => l.instruction === 'FROM');
  assert.deepEqual(
    froms.map((l) => l.args),
    ['${BASE_IMAGE} AS build', '${BASE_IMAGE} AS runtime'],
  );
  const runtime = lines.slice(lines.findIndex((l) => l.args === '${BASE_IMAGE} AS runtime'));
  const value = (instruction: string) => runtime.filter((l) => l.instruction === instruction).at(-1)?.args;
  assert.ok(runtime.some((l) => l.instruction === 'COPY' && l.args.includes('--from=build /app/web')), 'web pages come from the build stage');
  assert.doesNotMatch(value('USER') ?? 'root', /^(root|0)(:|$)/, 'runs as a non-root user');
  assert.equal(value('EXPOSE'), '8080');
  assert.match(value('ENV') ?? '', /HOST=0\.0\.0\.0/);
  assert.match(value('HEALTHCHECK') ?? '', /\/healthz/);
  // Exec form: the server is the process the runtime signals, not a shell around it.
  const cmd = JSON.parse(value('CMD') ?? 'null') as string[];
  assert.deepEqual(cmd, ['/app/node_modules/.bin/node', 'src/cli/serve.ts']);
  assert.ok(!runtime.some((l) => l.instruction === 'ENTRYPOINT'), 'no entrypoint wraps the server');
});
