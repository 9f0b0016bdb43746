/**
 * The distributed topology: the app runs against the 3-master Redis Cluster and the
 * 3-broker Kafka cluster that `npm run services -- --topology cluster` starts (npm test starts it).
 *
 * - Its topics get replication factor 3 and min.insync.replicas 2, and 12 order partitions.
 * - A crowd of concurrent buyers: no oversell, the per-user limit holds, every 202 is in MySQL, and
 *   one activity's orders landed on more than one partition (keyed by order id).
 * - The same with one Kafka broker SIGKILLed mid-sale (the one leading the most order partitions),
 *   then restarted by `npm run services -- --topology cluster`: the promises still hold.
 *
 * Skipped, saying why, when the cluster topology is not running (e.g. one file run by hand).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { Cluster } from 'ioredis';
import {
  clusterEnv,
  KAFKA_CLUSTER_NODES,
  kafkaBrokerCount,
  kafkaClusterNodes,
  redisClusterNodes,
  redisClusterSummary,
  waitForKafkaBrokers,
} from '../../src/cli/services/cluster.ts';
import { ROOT } from '../../src/cli/services/process.ts';
import { owned } from '../../src/cli/services/service.ts';
import { deleteKafkaTopics } from '../../src/demo/cleanup.ts';
import { type Json, pool, type Reply, startTestApp, type TestApp, waitFor } from '../support/http.ts';

const CLUSTER = clusterEnv();
const BROKERS = CLUSTER.SECKILL_KAFKA_BROKERS.split(',');

async function whyNotUp(): Promise<string | undefined> {
  const redis = await redisClusterSummary(redisClusterNodes());
  if (!redis.ok) return `Redis Cluster not up (${redis.line}); start it: npm run services -- --topology cluster`;
  const brokers = await kafkaBrokerCount(kafkaClusterNodes()).catch(() => 0);
  if (brokers < KAFKA_CLUSTER_NODES.length) return `Kafka cluster lists ${brokers} of 3 brokers; start it: npm run services -- --topology cluster`;
  return undefined;
}

const skip = await whyNotUp();

interface Attempt {
  userId: string;
  reply: Reply<Json>;
}

/** One purchase, retried with the same requestId on 503 BUSY (a well-behaved client), a bounded number of times. */
async function buy(t: TestApp, activityId: string, userId: string): Promise<Attempt> {
  for (let attempt = 0; ; attempt++) {
    const reply = await t.buy(userId, activityId, `req-${userId}`);
    if (reply.status !== 503 || attempt >= 20) return { userId, reply };
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Deletes a test's keys on every master (keys of several slots: one UNLINK each). */
async function deleteClusterPrefix(prefix: string): Promise<void> {
  const cluster = new Cluster([{ host: '127.0.0.1', port: 7001 }], { redisOptions: { connectTimeout: 2000 } });
  try {
    await cluster.ping();
    for (const node of cluster.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await Promise.all(keys.map((key) => node.unlink(key)));
      } while (cursor !== '0');
    }
  } finally {
    cluster.disconnect();
  }
}

describe('the cluster topology: 3-master Redis Cluster, 3-broker Kafka', { skip }, () => {
  let t: TestApp;
  let admin: Admin;

  before(async () => {
    t = await startTestApp(
      {
        ...CLUSTER,
        // The broker kill makes every client log its reconnects at warn; the assertions say what matters.
        SECKILL_LOG_LEVEL: process.env.SECKILL_TEST_LOG_LEVEL ?? 'error',
        // Bounds how long an order whose publish outcome was unknown waits to be settled.
        SECKILL_RECONCILE_INTERVAL_MS: '2000',
      },
      'topo',
    );
    admin = new Admin({ clientId: `test-${t.env.id}`, bootstrapBrokers: BROKERS, timeout: 10_000 });
  });

  after(async () => {
    await admin?.close().catch(() => {});
    if (t) {
      const { prefix } = t.env.config.redis;
      const { topicPrefix } = t.env.config.kafka;
      // Drops the database; its Redis and Kafka clean-up looks at the default topology, so the cluster's is done here.
      await t.close();
      await deleteClusterPrefix(prefix);
      const problem = await deleteKafkaTopics(BROKERS, topicPrefix);
      if (problem) process.stderr.write(`cluster test cleanup: ${problem}\n`);
    }
  });

  const ordersTopic = () => t.app.infra.kafka.topics.orders;

  test('topics on 3 brokers: replication factor 3, min.insync.replicas 2, 12 order partitions', async () => {
    const { topics } = t.app.infra.kafka;
    const names = [topics.orders, topics.ordersDlq, topics.events];
    const metadata = await admin.metadata({ topics: names });
    assert.equal(metadata.brokers.size, 3);
    assert.equal(metadata.topics.get(ordersTopic())?.partitionsCount, 12);
    for (const name of names) {
      const partitions = metadata.topics.get(name)?.partitions ?? [];
      assert.ok(partitions.length > 0, name);
      for (const [i, p] of partitions.entries()) assert.equal(p.replicas.length, 3, `${name}[${i}] replicas ${p.replicas.join(',')}`);
    }
    const described = await admin.describeConfigs({
      resources: names.map((resourceName) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName, configurationKeys: ['min.insync.replicas'] })),
    });
    for (const name of names) {
      const value = described.find((d) => d.resourceName === name)?.configs.find((c) => c.name === 'min.insync.replicas')?.value;
      assert.equal(value, '2', `${name} min.insync.replicas`);
    }
  });

  /** Offsets written to each orders partition so far (end offsets). */
  async function partitionEnds(): Promise<Map<number, bigint>> {
    const count = (await admin.metadata({ topics: [ordersTopic()] })).topics.get(ordersTopic())?.partitionsCount ?? 0;
    const offsets = await admin.listOffsets({
      topics: [{ name: ordersTopic(), partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
    });
    return new Map(offsets[0]?.partitions.map((p) => [p.partitionIndex, p.offset]) ?? []);
  }

  /**
   * Runs `buyers` users (limit 1 each, one request each) against an activity of `stock` units,
   * calling `during` once an eighth of them have answered; then checks the promises in MySQL.
   */
  async function sale(stock: number, buyers: number, during?: () => Promise<void>): Promise<{ activityId: string; winners: string[] }> {
    const { activity } = await t.createSale({ stock, limitPerUser: 1 });
    const activityId = String(activity.id);
    let answered = 0;
    let fault: Promise<void> | undefined;
    const tasks = Array.from({ length: buyers }, (_, i) => async () => {
      const attempt = await buy(t, activityId, `u${i}`);
      answered++;
      if (during && fault === undefined && answered >= buyers / 8) fault = during();
      return attempt;
    });
    const attempts = await pool(tasks, 40);
    await fault;

    const winners: string[] = [];
    for (const { reply } of attempts) {
      assert.ok([202, 409, 503].includes(reply.status), `unexpected ${reply.status} ${JSON.stringify(reply.body)}`);
      if (reply.status === 409) assert.equal(reply.body.error.code, 'SOLD_OUT', JSON.stringify(reply.body));
      if (reply.status === 202) winners.push(String(reply.body.orderId));
    }
    assert.ok(winners.length <= stock, `${winners.length} answers 202 for ${stock} units`);
    assert.ok(winners.length > 0, 'somebody won');

    // Every 202 becomes a row in MySQL (PENDING_PAYMENT, or FAILED with a reason if its publish was lost).
    const db = t.app.infra.db;
    const rows = await waitFor(
      async () => {
        const found = await db.selectFrom('orders').select(['id', 'user_id', 'quantity', 'status']).where('activity_id', '=', activityId).execute();
        const ids = new Set(found.map((o) => String(o.id)));
        return winners.every((id) => ids.has(id)) ? found : undefined;
      },
      180_000,
      'every 202 order in MySQL',
    );
    assert.ok(rows);
    const live = rows.filter((o) => o.status !== 'FAILED');
    const units = live.reduce((sum, o) => sum + Number(o.quantity), 0);
    assert.ok(units <= stock, `oversold: ${units} units in live orders of ${stock}`);
    const perUser = new Map<string, number>();
    for (const o of live) perUser.set(o.user_id, (perUser.get(o.user_id) ?? 0) + Number(o.quantity));
    for (const [user, n] of perUser) assert.ok(n <= 1, `${user} holds ${n} units, limit 1`);
    const row = await db.selectFrom('activity_stock').selectAll().where('activity_id', '=', activityId).executeTakeFirstOrThrow();
    assert.equal(Number(row.available) + Number(row.locked) + Number(row.sold), stock, JSON.stringify(row));
    assert.ok(Number(row.available) >= 0, JSON.stringify(row));
    assert.equal(Number(row.locked) + Number(row.sold), units, `MySQL's stock row agrees with the live orders: ${JSON.stringify(row)}`);
    return { activityId, winners };
  }

  test('a crowd against the cluster: no oversell, every 202 in MySQL, orders spread over partitions', async () => {
    const before = await partitionEnds();
    const { winners } = await sale(60, 300);
    assert.equal(winners.length, 60, 'every unit sold: 300 buyers for 60 units on a healthy cluster');
    const after = await partitionEnds();
    const used = [...after].filter(([partition, end]) => end > (before.get(partition) ?? 0n));
    assert.ok(used.length > 1, `one activity's orders landed on ${used.length} partition(s)`);
  });

  test('one Kafka broker SIGKILLed mid-sale and restarted: the promises hold', async (ctx) => {
    const metadata = await admin.metadata({ topics: [ordersTopic()] });
    const leads = new Map<number, number>();
    for (const p of metadata.topics.get(ordersTopic())?.partitions ?? []) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
    const busiest = [...leads].sort((a, b) => b[1] - a[1])[0]?.[0];
    const node = kafkaClusterNodes()[(busiest ?? 1) - 1]!;
    const ours = owned(node);
    if (ours === undefined) {
      ctx.skip(`${node.name} was not started by npm run services; not killing what is not ours`);
      return;
    }
    let killedAt = 0;
    try {
      // Killed early (an eighth of the buyers answered), so most of the 150 winners publish while it is down.
      await sale(150, 400, async () => {
        process.kill(ours.pid, 'SIGKILL');
        killedAt = Date.now();
      });
      assert.ok(killedAt > 0, 'the broker was killed during the sale');
    } finally {
      // Restarted by the same idempotent command an operator runs; it starts only what is missing.
      const { stdout } = await promisify(execFile)(process.execPath, ['src/cli/services.ts', '--topology', 'cluster'], {
        cwd: ROOT,
        timeout: 240_000,
      });
      assert.match(stdout, new RegExp(`${node.name}: started`), stdout);
      await waitForKafkaBrokers(kafkaClusterNodes());
    }
  });
});
