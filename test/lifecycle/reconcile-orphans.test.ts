/**
 * A pending answer whose API process died mid-publish (issue #10): nobody was told 202, and
 * whether Kafka has the message is unknown. Reconciliation confirms it only when its order is in
 * MySQL; with no order while the pipeline is idle it releases the units and forgets the answer, so
 * a replay starts afresh instead of being told 202 for an order that would end FAILED (LOST).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { reserve } from '../../src/redis/stock.ts';
import { createReconciler } from '../../src/services/reconcile.ts';
import { startTestApp, type TestApp } from '../support/http.ts';

describe('reconciling orphan pending answers', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'orph');
  });
  after(async () => {
    await t?.close();
  });

  test('never published: released and forgotten once the pipeline is idle; a replay then buys afresh', async () => {
    const { activity } = await t.createSale({ stock: 5, limitPerUser: 1 });
    const { redis, keys, db, log } = t.app.infra;
    // Preheat, then reserve as an API process would, and "die" before publishing.
    assert.equal((await t.buy('someone', activity.id, 'r1')).status, 202);
    const orphanId = '999000000000000001';
    const reserved = await reserve(redis, keys, {
      activityId: activity.id,
      userId: 'ghost',
      requestId: 'g1',
      quantity: 1,
      limitPerUser: 1,
      orderId: orphanId,
      nowMs: Date.now() - 60_000,
      ttlSeconds: 3600,
    });
    assert.equal(reserved.kind, 'reserved');
    const answerKey = keys.activity(activity.id).request('ghost', 'g1');
    assert.equal(await redis.get(answerKey), `P:${orphanId}`);

    let idle = false;
    const reconciler = createReconciler({ ...t.app.services, db, redis, keys, log, orphanAfterMs: 1000, orderPipelineIdle: async () => idle });
    // The pipeline may still hold the message: nothing is decided.
    const busy = await reconciler.reconcile(activity);
    assert.deepEqual(busy.unpublished, []);
    assert.equal(await redis.get(answerKey), `P:${orphanId}`);

    idle = true;
    const report = await reconciler.reconcile(activity);
    assert.deepEqual(report.unpublished, [orphanId]);
    assert.deepEqual(report.lost, []);
    assert.equal(await redis.get(answerKey), null, 'the answer is forgotten');
    assert.equal(report.after.remaining, 4, 'the unit is back on sale');

    const replay = await t.buy('ghost', activity.id, 'g1');
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.notEqual(replay.body.orderId, orphanId);
  });
});
