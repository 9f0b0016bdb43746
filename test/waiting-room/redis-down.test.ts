/**
 * The waiting room while Redis is unreachable (a redis-server of this test's own, stopped): join,
 * poll and leave answer 503 BUSY with Retry-After, never 500; a purchase with a valid pass is not
 * made worse by the waiting room (the pass is checked without Redis).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort } from '../../src/demo/service.ts';
import { deleteKafkaTopics, dropDatabase } from '../support/env.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { admitted, buyWithPass, createRoomSale, join, ticketOf } from './helpers.ts';

let redis: ChildProcess | undefined;
let t: TestApp | undefined;
after(async () => {
  // The Redis is this test's own and goes with it: only the database and the topics need dropping.
  if (t) {
    await t.app.close();
    await dropDatabase(t.env.config.mysql.database);
    await deleteKafkaTopics(t.env.config.kafka.topicPrefix);
  }
  if (redis && redis.exitCode === null) {
    redis.kill('SIGKILL');
    await once(redis, 'exit');
  }
});

test('join, poll and leave answer 503 BUSY with Retry-After while Redis is away', { timeout: 120_000 }, async () => {
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(
    async () => {
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    10_000,
    'own redis-server up',
  );
  const app = await startTestApp({ SECKILL_REDIS_URL: `redis://127.0.0.1:${port}` }, 'wrdown');
  t = app;
  const sale = await createRoomSale(app, { stock: 10, waitingRoom: { mode: 'fifo', admitPerSecond: 100, keepSeconds: 3600 } });
  assert.equal((await join(app, 'alice', sale.id)).status, 201);
  const ticket = await admitted(app, 'alice', sale.id);

  redis.kill('SIGTERM');
  await once(redis, 'exit');
  for (const reply of [await join(app, 'bob', sale.id), await ticketOf(app, 'alice', sale.id), await app.user('alice', 'DELETE', `/api/v1/activities/${sale.id}/queue`)]) {
    assert.equal(reply.status, 503, JSON.stringify(reply.body));
    assert.equal(reply.body.error.code, 'BUSY');
    assert.ok(Number(reply.headers.get('retry-after')) >= 1);
  }
  // The purchase path is the guard's as ever: 503, not a pass refusal and never a 500.
  const bought = await buyWithPass(app, 'alice', sale.id, 'r1', ticket.pass);
  assert.equal(bought.status, 503, JSON.stringify(bought.body));
});
