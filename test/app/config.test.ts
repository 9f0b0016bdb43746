/**
 * Configuration: every variable of the contract's table (docs/api.md) has its documented default, a bad
 * value of each kind is refused with a ConfigError naming the variable, and the CLI turns a bad
 * value into exactly one line on stderr and exit code 1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEV_SECRETS, loadConfig, usableCores } from '../../src/config.ts';
import { replicationFor } from '../../src/kafka/topics.ts';
import { testEnv } from '../support/env.ts';

const ROOT = new URL('../../', import.meta.url);

describe('config defaults (docs/api.md table)', () => {
  const config = loadConfig({});

  test('HTTP listen address', () => {
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
  });

  test('Redis: one node, no cluster, prefix sk', () => {
    assert.deepEqual(config.redis.nodes, ['redis://127.0.0.1:6379']);
    assert.equal(config.redis.cluster, false);
    assert.equal(config.redis.prefix, 'sk');
  });

  test('MySQL: root@127.0.0.1:3306, database seckill', () => {
    const url = new URL(config.mysql.url);
    assert.equal(url.protocol, 'mysql:');
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.port, '3306');
    assert.equal(url.username, 'root');
    assert.equal(url.pathname, '/seckill');
    assert.equal(config.mysql.database, 'seckill');
  });

  test('Kafka: 127.0.0.1:9092, topic prefix seckill', () => {
    assert.deepEqual(config.kafka.brokers, ['127.0.0.1:9092']);
    assert.equal(config.kafka.topicPrefix, 'seckill');
  });

  test('Kafka: 12 order partitions; replication left to the cluster (undefined until ensureTopics)', () => {
    assert.equal(config.kafka.orderPartitions, 12);
    assert.equal(config.kafka.replicationFactor, undefined);
    assert.equal(config.kafka.minInsyncReplicas, undefined);
  });

  test('secrets fall back to dev defaults, each listed in devDefaults', () => {
    assert.equal(config.jwtSecret, DEV_SECRETS.SECKILL_JWT_SECRET);
    assert.equal(config.adminToken, DEV_SECRETS.SECKILL_ADMIN_TOKEN);
    assert.equal(config.paymentSecret, DEV_SECRETS.SECKILL_PAYMENT_SECRET);
    assert.deepEqual([...config.devDefaults].sort(), ['SECKILL_ADMIN_TOKEN', 'SECKILL_JWT_SECRET', 'SECKILL_PAYMENT_SECRET']);
  });

  test('set secrets are used and not listed as dev defaults', () => {
    const c = loadConfig({
      SECKILL_JWT_SECRET: 'jwt-secret-123',
      SECKILL_ADMIN_TOKEN: 'admin-token-123',
      SECKILL_PAYMENT_SECRET: 'pay-secret-123',
    });
    assert.equal(c.jwtSecret, 'jwt-secret-123');
    assert.equal(c.adminToken, 'admin-token-123');
    assert.equal(c.paymentSecret, 'pay-secret-123');
    assert.deepEqual(c.devDefaults, []);
  });

  test('flags default off', () => {
    assert.equal(config.paymentSimulator.enabled, false);
    assert.equal(config.rate.trustProxy, false);
    assert.equal(config.devTokens, false);
  });

  test('rates, reaper interval, in-flight cap, degrade ratio', () => {
    assert.equal(config.rate.userPerSec, 5);
    assert.equal(config.rate.userBurst, 10);
    assert.equal(config.rate.ipPerSec, 0);
    assert.equal(config.reaperIntervalMs, 1000);
    assert.ok(Number.isInteger(config.maxInflight) && config.maxInflight > 0, `maxInflight ${config.maxInflight}`);
    assert.equal(config.degradeAdmitRatio, 0);
  });

  test('WebSocket caps and timeouts', () => {
    assert.deepEqual(config.ws, {
      maxPerUser: 10,
      maxPerIp: 1000,
      maxPerInstance: 50_000,
      heartbeatMs: 30_000,
      idleTimeoutMs: 1_800_000,
      maxBufferedBytes: 262_144,
    });
  });

  test('roles default to api and worker', () => {
    assert.deepEqual([...config.roles].sort(), ['api', 'worker']);
  });

  test('empty or blank values count as unset', () => {
    const c = loadConfig({ PORT: '', HOST: '  ', SECKILL_RATE_USER_PER_SEC: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.rate.userPerSec, 5);
  });
});

describe('config values', () => {
  test('a comma-separated list of redis URLs means Redis Cluster', () => {
    const c = loadConfig({ SECKILL_REDIS_URL: 'redis://10.0.0.1:7000, redis://10.0.0.2:7001,redis://10.0.0.3:7002' });
    assert.equal(c.redis.cluster, true);
    assert.deepEqual(c.redis.nodes, ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7001', 'redis://10.0.0.3:7002']);
  });

  test('a mariadb:// URL is accepted and normalised to mysql://', () => {
    const c = loadConfig({ SECKILL_MYSQL_URL: 'mariadb://app:pw@db.local:3307/flash' });
    assert.equal(c.mysql.database, 'flash');
    assert.equal(new URL(c.mysql.url).protocol, 'mysql:');
  });

  test('comma-separated brokers', () => {
    const c = loadConfig({ SECKILL_KAFKA_BROKERS: 'k1:9092, k2:9093' });
    assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9093']);
  });

  test('flags accept 1/true and 0/false', () => {
    for (const on of ['1', 'true']) {
      const c = loadConfig({ SECKILL_PAYMENT_SIMULATOR: on, SECKILL_TRUST_PROXY: on, SECKILL_DEV_TOKENS: on });
      assert.equal(c.paymentSimulator.enabled, true);
      assert.equal(c.rate.trustProxy, true);
      assert.equal(c.devTokens, true);
    }
    for (const off of ['0', 'false']) {
      const c = loadConfig({ SECKILL_PAYMENT_SIMULATOR: off, SECKILL_TRUST_PROXY: off, SECKILL_DEV_TOKENS: off });
      assert.equal(c.paymentSimulator.enabled, false);
      assert.equal(c.rate.trustProxy, false);
      assert.equal(c.devTokens, false);
    }
  });

  test('numbers are read', () => {
    const c = loadConfig({
      PORT: '9000',
      SECKILL_RATE_USER_PER_SEC: '2.5',
      SECKILL_RATE_USER_BURST: '4',
      SECKILL_RATE_IP_PER_SEC: '100',
      SECKILL_REAPER_INTERVAL_MS: '250',
      SECKILL_MAX_INFLIGHT: '64',
      SECKILL_DEGRADE_ADMIT_RATIO: '0.25',
    });
    assert.equal(c.port, 9000);
    assert.equal(c.rate.userPerSec, 2.5);
    assert.equal(c.rate.userBurst, 4);
    assert.equal(c.rate.ipPerSec, 100);
    assert.equal(c.reaperIntervalMs, 250);
    assert.equal(c.maxInflight, 64);
    assert.equal(c.degradeAdmitRatio, 0.25);
  });

  test('Kafka partitions, replication factor and min.insync.replicas are read', () => {
    const c = loadConfig({
      SECKILL_KAFKA_ORDER_PARTITIONS: '24',
      SECKILL_KAFKA_REPLICATION_FACTOR: '3',
      SECKILL_KAFKA_MIN_INSYNC_REPLICAS: '2',
    });
    assert.equal(c.kafka.orderPartitions, 24);
    assert.equal(c.kafka.replicationFactor, 3);
    assert.equal(c.kafka.minInsyncReplicas, 2);
  });

  test('a degrade ratio of exactly 1 is allowed', () => {
    assert.equal(loadConfig({ SECKILL_DEGRADE_ADMIT_RATIO: '1' }).degradeAdmitRatio, 1);
  });
});

describe('bad configuration is refused with a ConfigError naming the variable', () => {
  const cases: Array<[kind: string, variable: string, value: string]> = [
    ['unparseable URL', 'SECKILL_REDIS_URL', 'not a url'],
    ['unparseable URL in a cluster list', 'SECKILL_REDIS_URL', 'redis://127.0.0.1:7000,::nope'],
    ['wrong protocol', 'SECKILL_REDIS_URL', 'http://127.0.0.1:6379'],
    ['unparseable URL', 'SECKILL_MYSQL_URL', '%%%'],
    ['wrong protocol', 'SECKILL_MYSQL_URL', 'postgres://root@127.0.0.1:5432/seckill'],
    ['bad database name', 'SECKILL_MYSQL_URL', 'mysql://root@127.0.0.1:3306/bad-name;drop'],
    ['negative rate', 'SECKILL_RATE_USER_PER_SEC', '-1'],
    ['negative burst', 'SECKILL_RATE_USER_BURST', '-5'],
    ['negative rate', 'SECKILL_RATE_IP_PER_SEC', '-0.5'],
    ['non-numeric rate', 'SECKILL_RATE_USER_PER_SEC', 'fast'],
    ['ratio > 1', 'SECKILL_DEGRADE_ADMIT_RATIO', '1.5'],
    ['negative ratio', 'SECKILL_DEGRADE_ADMIT_RATIO', '-0.1'],
    ['non-integer port', 'PORT', 'abc'],
    ['fractional port', 'PORT', '80.5'],
    ['port out of range', 'PORT', '70000'],
    ['non-integer ops port', 'SECKILL_OPS_PORT', 'metrics'],
    ['ops port out of range', 'SECKILL_OPS_PORT', '65536'],
    ['ops port equal to PORT (default 8080)', 'SECKILL_OPS_PORT', '8080'],
    ['bad ops host', 'SECKILL_OPS_HOST', 'a host'],
    ['bad broker list', 'SECKILL_KAFKA_BROKERS', 'localhost'],
    ['bad broker list', 'SECKILL_KAFKA_BROKERS', '127.0.0.1:9092,,127.0.0.1:9093'],
    ['bad broker port', 'SECKILL_KAFKA_BROKERS', '127.0.0.1:0'],
    ['bad flag', 'SECKILL_PAYMENT_SIMULATOR', 'yes'],
    ['bad flag', 'SECKILL_TRUST_PROXY', '2'],
    ['bad flag', 'SECKILL_DEV_TOKENS', 'on'],
    ['zero in-flight cap', 'SECKILL_MAX_INFLIGHT', '0'],
    ['negative reaper interval', 'SECKILL_REAPER_INTERVAL_MS', '-1000'],
    ['bad prefix', 'SECKILL_REDIS_PREFIX', 'has space'],
    ['bad prefix', 'SECKILL_KAFKA_TOPIC_PREFIX', 'a/b'],
    ['short secret', 'SECKILL_JWT_SECRET', 'short'],
    ['zero partitions', 'SECKILL_KAFKA_ORDER_PARTITIONS', '0'],
    ['fractional partitions', 'SECKILL_KAFKA_ORDER_PARTITIONS', '1.5'],
    ['non-numeric partitions', 'SECKILL_KAFKA_ORDER_PARTITIONS', 'many'],
    ['zero replication factor', 'SECKILL_KAFKA_REPLICATION_FACTOR', '0'],
    ['non-numeric replication factor', 'SECKILL_KAFKA_REPLICATION_FACTOR', 'three'],
    ['zero min in-sync replicas', 'SECKILL_KAFKA_MIN_INSYNC_REPLICAS', '0'],
    ['negative min in-sync replicas', 'SECKILL_KAFKA_MIN_INSYNC_REPLICAS', '-2'],
    ['negative cap', 'SECKILL_WS_MAX_PER_USER', '-1'],
    ['fractional cap', 'SECKILL_WS_MAX_PER_IP', '2.5'],
    ['non-numeric cap', 'SECKILL_WS_MAX_PER_INSTANCE', 'lots'],
    ['heartbeat too short', 'SECKILL_WS_HEARTBEAT_MS', '0'],
    ['negative idle timeout', 'SECKILL_WS_IDLE_TIMEOUT_MS', '-1'],
    ['send bound too small', 'SECKILL_WS_MAX_BUFFERED_BYTES', '100'],
  ];

  for (const [kind, variable, value] of cases) {
    test(`${kind}: ${variable}=${JSON.stringify(value)}`, () => {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
          assert.equal(error.variable, variable);
          assert.match(error.message, new RegExp(`\\b${variable}\\b`));
          assert.ok(!error.message.includes('\n'), 'one line');
          return true;
        },
      );
    });
  }
});

describe('Kafka replication that cannot work is refused naming the variable', () => {
  const refuses = (fn: () => unknown, variable: string) =>
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`\\b${variable}\\b`));
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    });

  test('min.insync.replicas above the replication factor, both set: refused at load', () => {
    refuses(() => loadConfig({ SECKILL_KAFKA_REPLICATION_FACTOR: '2', SECKILL_KAFKA_MIN_INSYNC_REPLICAS: '3' }), 'SECKILL_KAFKA_MIN_INSYNC_REPLICAS');
  });

  test('defaults follow the cluster: RF min(3, brokers), min ISR min(2, RF)', () => {
    assert.deepEqual(replicationFor(1, {}), { replicationFactor: 1, minInsyncReplicas: 1 });
    assert.deepEqual(replicationFor(2, {}), { replicationFactor: 2, minInsyncReplicas: 2 });
    assert.deepEqual(replicationFor(3, {}), { replicationFactor: 3, minInsyncReplicas: 2 });
    assert.deepEqual(replicationFor(5, {}), { replicationFactor: 3, minInsyncReplicas: 2 });
    assert.deepEqual(replicationFor(5, { replicationFactor: 5 }), { replicationFactor: 5, minInsyncReplicas: 2 });
    assert.deepEqual(replicationFor(3, { minInsyncReplicas: 1 }), { replicationFactor: 3, minInsyncReplicas: 1 });
  });

  test('a replication factor above the brokers the cluster reports: refused when topics are ensured', () => {
    refuses(() => replicationFor(1, { replicationFactor: 3 }), 'SECKILL_KAFKA_REPLICATION_FACTOR');
  });

  test('min.insync.replicas above the replication factor the cluster gives: refused when topics are ensured', () => {
    refuses(() => replicationFor(1, { minInsyncReplicas: 2 }), 'SECKILL_KAFKA_MIN_INSYNC_REPLICAS');
  });
});

describe('the CLI with a bad value', () => {
  const env = testEnv({}, 'cfg');
  after(() => env.cleanup());

  test('PORT=abc: exit code 1 and exactly one stderr line naming PORT', async () => {
    const child = spawn(process.execPath, ['src/cli/serve.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env.env, PORT: 'abc' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 1, `stderr: ${stderr}`);
    const lines = stderr.split('\n');
    assert.equal(lines.at(-1), '', 'stderr ends with a newline');
    assert.equal(lines.length, 2, `exactly one line, got ${JSON.stringify(stderr)}`);
    assert.match(lines[0]!, /\bPORT\b/);
    assert.equal(stdout, '');
  });
});

describe('API processes: one per usable core unless set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seckill-cpu-max-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cpuMax = (text: string) => {
    const file = join(dir, `cpu.max-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    return file;
  };

  test('default: the CPUs available, said so in the reason', () => {
    const config = loadConfig({});
    assert.equal(config.apiProcesses, usableCores().count);
    assert.match(config.apiProcessesReason, /^default: one per usable core/);
    assert.equal(loadConfig({ SECKILL_API_PROCESSES: '3' }).apiProcessesReason, 'SECKILL_API_PROCESSES');
  });

  test('a cgroup CPU quota below the CPUs caps the count (rounded up); no quota leaves it', () => {
    assert.deepEqual(usableCores(cpuMax('max 100000\n')), { count: availableParallelism(), why: `${availableParallelism()} CPUs available` });
    const half = usableCores(cpuMax('50000 100000\n'));
    assert.equal(half.count, 1);
    if (availableParallelism() > 1) assert.match(half.why, /cgroup CPU quota of 1 of/);
    assert.equal(usableCores(cpuMax('150000 100000\n')).count, Math.min(2, availableParallelism()), '1.5 CPUs: 2 processes');
    assert.equal(usableCores(join(dir, 'absent')).count, availableParallelism());
  });
});
