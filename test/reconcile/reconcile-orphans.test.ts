/**
 * Reservations that stay in flight (their Kafka message never arrived, or their API process died
 * mid-publish) end as orders, never as releases: reconciliation rebuilds the message from the
 * reservation and publishes it again, and the worker writes the order. A confirmed reservation (its
 * buyer was told 202) is republished only while the order pipeline is idle, so a message still
 * waiting in Kafka is not sent twice for nothing; a pending one (nobody told 202: its process is
 * gone) is republished at once and its answer confirmed, so a replay is told 202 with that id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { confirm, reserve } from '../../src/redis/reservations.ts';
import { createReconciler } from '../../src/reconcile/reconcile.ts';
import { type Json, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { sides } from '../lifecycle/helpers.ts';

describe('reconciling reservations that stay in flight', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_RECONCILE_INTERVAL_MS: '3600000' }, 'orph');
  });
  after(async () => {
    await t?.close();
  });

  /** Reserves as an API process would, `ageMs` ago, and publishes nothing. */
  async function reserveUnpublished(activityId: string, userId: string, requestId: string, ageMs: number): Promise<string> {
    const { redis, keys } = t.app.infra;
    const orderId = t.app.services.ids.next();
    const reserved = await reserve(redis, keys, {
      activityId,
      userId,
      requestId,
      quantity: 1,
      limitPerUser: 1,
      orderId,
      nowMs: Date.now() - ageMs,
      ttlSeconds: 3600,
    });
    assert.equal(reserved.kind, 'reserved');
    return orderId;
  }

  /** The order once the worker has written its row. */
  function persisted(userId: string, orderId: string): Promise<Json> {
    return waitFor(async () => {
      const o = await t.user(userId, 'GET', `/api/v1/orders/${orderId}`);
      return o.status === 200 && o.body.order.status !== 'QUEUED' ? o.body.order : undefined;
    }, 20_000, `order ${orderId} persisted`);
  }

  function reconcilerWith(idle: () => boolean) {
    const { db, redis, keys, log } = t.app.infra;
    return createReconciler({ ...t.app.services, db, redis, keys, log, orderPipelineIdle: async () => idle() });
  }

  test('a 202 whose message never reached Kafka: republished once the pipeline is idle, then an order', async () => {
    const { activity } = await t.createSale({ stock: 3, limitPerUser: 1 });
    const { redis, keys } = t.app.infra;
    assert.equal((await t.buy('someone', activity.id, 'r1')).status, 202);
    const orderId = await reserveUnpublished(activity.id, 'lou', 'lost-1', 60_000);
    // Its API process confirmed the answer (the buyer was told 202); then the message was lost.
    await confirm(redis, keys, { activityId: activity.id, userId: 'lou', requestId: 'lost-1', orderId });

    let idle = false;
    const reconciler = reconcilerWith(() => idle);
    const waiting = await reconciler.reconcile(activity);
    assert.deepEqual(waiting.republished, [], 'the message may still be waiting in Kafka: nothing is sent');

    idle = true;
    const report = await reconciler.reconcile(activity);
    assert.deepEqual(report.republished, [orderId]);
    // Reserved without its QUEUED view (as by a process that died before writing it): the
    // republish writes it, so the owner never gets a 404 for an id answered 202.
    assert.equal((await t.user('lou', 'GET', `/api/v1/orders/${orderId}`)).status, 200);
    const order = await persisted('lou', orderId);
    assert.equal(order.status, 'PENDING_PAYMENT');
    await waitFor(async () => (await redis.hlen(keys.activity(activity.id).reservations)) === 0, 10_000, 'reservations settled');
    assert.deepEqual(await sides(t, activity.id), { available: 1, locked: 2, sold: 0, remaining: 1 });
    const again = await reconciler.reconcile(activity);
    assert.deepEqual(again.republished, [], 'a persisted reservation is not published again');
  });

  test('a pending answer whose process died mid-publish: republished and confirmed; the replay gets its 202', async () => {
    const { activity } = await t.createSale({ stock: 5, limitPerUser: 1 });
    const { redis, keys } = t.app.infra;
    const orphanId = await reserveUnpublished(activity.id, 'ghost', 'g1', 60_000);
    const answerKey = keys.activity(activity.id).request('ghost', 'g1');
    assert.equal(await redis.get(answerKey), `P:${orphanId}`);
    assert.equal((await t.buy('ghost', activity.id, 'g1')).status, 503, 'undecided: the replay is told to retry');

    // Pending for longer than any live process waits for its publish: judged even with a busy pipeline.
    const report = await reconcilerWith(() => false).reconcile(activity);
    assert.deepEqual(report.republished, [orphanId]);
    assert.equal(await redis.get(answerKey), `O:${orphanId}`);
    const replay = await t.buy('ghost', activity.id, 'g1');
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.equal(replay.body.orderId, orphanId);
    assert.equal((await persisted('ghost', orphanId)).status, 'PENDING_PAYMENT');
  });
});
