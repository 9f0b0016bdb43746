/**
 * Fault: one Redis Cluster master is SIGKILLed mid-sale. The cluster is the test's own
 * (3 masters + 3 replicas on free ports, never the shared 7001-7006); the activity's stock is split
 * over 3 shards, one per master. The circuit breakers are per node, so:
 *  - buyers whose home shard lived on the dead master get 503 BUSY with Retry-After (never 500)
 *    until its replica takes over, and then buy again;
 *  - buyers on the other masters' shards keep buying throughout;
 *  - every 202 order id reaches MySQL, no user holds more than the limit, nothing is oversold.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { homeShard, keySlot, shardTag } from '../../src/redis/keys.ts';
import { MYSQL_SERVER } from '../support/env.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { type OwnProcess, ownRedisCluster } from '../../src/chaos/processes.ts';

const SHARDS = 3;
const WARM_MS = 2000;
/** Bounds the run: failover takes about the node timeout (2 s) plus an election. */
const MAX_OUTAGE_MS = 30_000;
const AFTER_RECOVERY_MS = 2000;
const BATCH_PER_SHARD = 4;
const BATCH_EVERY_MS = 100;

interface Answer {
  atMs: number;
  shard: number;
  userId: string;
  status: number;
  code?: string;
  retryAfter: string | null;
  orderId?: string;
}

/** The master serving `slot`, as host:port, asked of any live node. */
async function masterOf(nodes: OwnProcess[], slot: number): Promise<string> {
  for (const node of nodes) {
    if (node.pid === undefined) continue;
    const client = new Redis(`redis://${node.address}`, { maxRetriesPerRequest: 0, lazyConnect: true, connectTimeout: 1000 });
    try {
      await client.connect();
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      const range = ranges.find(([low, high]) => slot >= low && slot <= high);
      if (range) return `${range[2][0]}:${range[2][1]}`;
    } catch {
      // ask the next node
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no node knows the master of slot ${slot}`);
}

describe('fault: a Redis Cluster master killed mid-sale', () => {
  let nodes: OwnProcess[] = [];
  let t: TestApp | undefined;

  before(async () => {
    nodes = await ownRedisCluster({ masters: 3, nodeTimeoutMs: 2000 });
    t = await startTestApp({ SECKILL_REDIS_URL: nodes.map((n) => `redis://${n.address}`).join(','), SECKILL_RATE_USER_PER_SEC: '0' }, 'rfail');
  });

  after(async () => {
    await t?.close();
    await Promise.all(nodes.map((node) => node.destroy()));
  });

  test("only the dead master's shard answers BUSY, and only until its replica takes over", async () => {
    const app = t as TestApp;
    const stock = 20_000;
    const { activity } = await app.createSale({ stock, shards: SHARDS, limitPerUser: 1 });
    const shardMasters = await Promise.all(Array.from({ length: SHARDS }, (_, i) => masterOf(nodes, keySlot(shardTag(activity.id, SHARDS, i)))));
    assert.equal(new Set(shardMasters).size, SHARDS, `the shards should sit on different masters: ${shardMasters.join(', ')}`);
    const victimShard = 0;
    const victim = nodes.find((node) => node.address === shardMasters[victimShard]);
    assert.ok(victim, `no node at ${shardMasters[victimShard]}`);

    // Users by home shard, so every batch asks every shard alike.
    let nextUser = 0;
    const userOn = (shard: number): string => {
      for (;;) {
        const userId = `rf-${nextUser++}`;
        if (homeShard(userId, SHARDS) === shard) return userId;
      }
    };
    const answers: Answer[] = [];
    const buy = async (shard: number): Promise<void> => {
      const userId = userOn(shard);
      const reply = await app.buy(userId, activity.id, 'r1');
      answers.push({
        atMs: Date.now(),
        shard,
        userId,
        status: reply.status,
        code: reply.body?.error?.code,
        retryAfter: reply.headers.get('retry-after'),
        orderId: reply.body?.orderId,
      });
    };
    const batch = () => Promise.all(Array.from({ length: SHARDS * BATCH_PER_SHARD }, (_, i) => buy(i % SHARDS)));

    const startMs = Date.now();
    while (Date.now() - startMs < WARM_MS) await Promise.all([batch(), sleep(BATCH_EVERY_MS)]);
    await victim.signal('SIGKILL');
    const killedAtMs = Date.now();
    let recoveredAtMs: number | undefined;
    while (Date.now() - killedAtMs < MAX_OUTAGE_MS) {
      await Promise.all([batch(), sleep(BATCH_EVERY_MS)]);
      recoveredAtMs ??= answers.find((a) => a.shard === victimShard && a.atMs > killedAtMs && a.status === 202)?.atMs;
      if (recoveredAtMs !== undefined && Date.now() - recoveredAtMs > AFTER_RECOVERY_MS) break;
    }

    const odd = answers.filter((a) => a.status !== 202 && !(a.status === 503 && a.code === 'BUSY'));
    assert.deepEqual(odd.slice(0, 5), [], 'only 202 or 503 BUSY is answered');
    assert.equal(answers.filter((a) => a.status === 503 && a.retryAfter === null).length, 0, 'every 503 carries Retry-After');
    assert.ok(recoveredAtMs !== undefined, `the dead master's shard did not sell again within ${MAX_OUTAGE_MS / 1000} s`);

    const outage = answers.filter((a) => a.atMs > killedAtMs && a.atMs < (recoveredAtMs as number));
    const victimRefused = outage.filter((a) => a.shard === victimShard && a.status === 503).length;
    const others = outage.filter((a) => a.shard !== victimShard);
    const othersSold = others.filter((a) => a.status === 202).length;
    console.log(
      `failover: ${recoveredAtMs - killedAtMs} ms until the dead master's shard sold again; ` +
        `meanwhile ${victimRefused} BUSY on it and ${othersSold}/${others.length} sold on the other shards`,
    );
    assert.ok(victimRefused > 0, 'the kill refused nobody: the test did not test the failover');
    // The other masters' buyers keep buying (a global breaker would refuse them all for seconds).
    assert.ok(othersSold >= 0.9 * others.length, `other shards sold ${othersSold} of ${others.length} during the outage`);

    // Promises 1-4 against MySQL: every 202 there, nobody over the limit, nothing oversold.
    const accepted = answers.filter((a) => a.status === 202);
    const mysql = await createConnection({ uri: MYSQL_SERVER, database: app.env.config.mysql.database, supportBigNumbers: true, bigNumberStrings: true });
    try {
      const stored = await waitFor(
        async () => {
          const [rows] = await mysql.query<RowDataPacket[]>('SELECT id, user_id, status FROM orders WHERE activity_id = ?', [activity.id]);
          const ids = new Set(rows.map((r) => String(r['id'])));
          return accepted.every((a) => ids.has(String(a.orderId))) ? rows : undefined;
        },
        60_000,
        'every 202 order id in MySQL',
      );
      const live = (stored as RowDataPacket[]).filter((r) => r['status'] !== 'FAILED');
      const perUser = new Map<string, number>();
      for (const r of live) perUser.set(String(r['user_id']), (perUser.get(String(r['user_id'])) ?? 0) + 1);
      assert.equal([...perUser.values()].filter((n) => n > 1).length, 0, 'no user holds more than the limit');
      const [[row]] = await mysql.query<RowDataPacket[]>('SELECT stock, available, locked, sold FROM activity_stock WHERE activity_id = ?', [activity.id]);
      assert.ok(row);
      assert.ok(Number(row['locked']) + Number(row['sold']) <= stock, 'nothing oversold');
      assert.equal(Number(row['available']) + Number(row['locked']) + Number(row['sold']), Number(row['stock']));
    } finally {
      await mysql.end();
    }
  });
});
