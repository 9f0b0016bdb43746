/**
 * Redis forgetting (README, "Faults": Redis killed and restarted empty): when the gate loses an
 * activity (a restart with nothing on disk, modelled here by deleting every key of the test's
 * prefix), it is rebuilt from MySQL with
 * what it knew of the buyers — their unit counts and the answers to their requests — so a user at
 * the limit is refused at the gate again (promise 3) and a replay gets its order id, not a second
 * one (promise 4). And when a second id was handed out anyway (an answer lost while its order was
 * still in flight), that id still reaches MySQL, as a FAILED order, and its unit comes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deleteRedisPrefix } from '../support/env.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp({}, 'mem');
});
after(async () => {
  await t?.close();
});

async function orderOf(userId: string, orderId: string) {
  const reply = await t.user(userId, 'GET', `/api/v1/orders/${orderId}`);
  return reply.status === 200 ? reply.body.order : undefined;
}

const persisted = (userId: string, orderId: string) =>
  waitFor(async () => {
    const order = await orderOf(userId, orderId);
    return order && order.status !== 'QUEUED' ? order : undefined;
  }, 30_000, `order ${orderId} persisted`);

describe('Redis restarted empty', () => {
  test('per-user counts and stored answers are rebuilt from MySQL before anyone can reserve', async () => {
    const { activity } = await t.createSale({ stock: 10, limitPerUser: 2 });
    const first = await t.buy('ann', activity.id, 'r1', 2);
    assert.equal(first.status, 202);
    assert.equal((await persisted('ann', first.body.orderId)).status, 'PENDING_PAYMENT');
    const bob = await t.buy('bob', activity.id, 'r1', 1);
    assert.equal(bob.status, 202);
    await persisted('bob', bob.body.orderId);

    await deleteRedisPrefix(t.env.config.redis.prefix);

    // Ann holds her limit in MySQL: the gate refuses her at once, not with a 202 that fails later.
    const again = await t.buy('ann', activity.id, 'r2', 1);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.error.code, 'LIMIT_EXCEEDED');
    // Replays get the order ids they were given before the wipe.
    const replay = await t.buy('ann', activity.id, 'r1', 2);
    assert.equal(replay.status, 202);
    assert.equal(replay.body.orderId, first.body.orderId);
    const bobReplay = await t.buy('bob', activity.id, 'r1', 1);
    assert.equal(bobReplay.body.orderId, bob.body.orderId);
    // Bob may still buy his second unit; the stock counter came back from MySQL.
    assert.equal((await t.buy('bob', activity.id, 'r2', 1)).status, 202);
    const stats = await t.stats(activity.id);
    assert.equal(stats.redis.remaining, 10 - 2 - 1 - 1);
    assert.equal(stats.db.available + stats.db.locked + stats.db.sold, 10);
  });

  test('a second id given to the same request still reaches MySQL, FAILED, and its unit returns', async () => {
    const { activity } = await t.createSale({ stock: 5, limitPerUser: 1 });
    const first = await t.buy('cy', activity.id, 'r1');
    assert.equal(first.status, 202);
    await persisted('cy', first.body.orderId);
    // Lose exactly what a failover can lose: this request's answer and the user's count.
    const k = t.app.infra.keys.activity(activity.id);
    await t.app.infra.redis.del(k.request('cy', 'r1'), k.user('cy'));

    const second = await t.buy('cy', activity.id, 'r1');
    assert.equal(second.status, 202);
    assert.notEqual(second.body.orderId, first.body.orderId);
    const duplicate = await persisted('cy', second.body.orderId);
    assert.equal(duplicate.status, 'FAILED');
    assert.equal(duplicate.reason, 'DUPLICATE_REQUEST');
    assert.equal((await orderOf('cy', first.body.orderId)).status, 'PENDING_PAYMENT');
    // my-order still shows the real order, and the unit of the second id is back on sale.
    const mine = await t.user('cy', 'GET', `/api/v1/activities/${activity.id}/my-order`);
    assert.equal(mine.body.order.orderId, first.body.orderId);
    await waitFor(async () => (await t.stats(activity.id)).redis.remaining === 4, 10_000, 'unit returned to Redis');
    const stats = await t.stats(activity.id);
    assert.deepEqual(stats.db, { available: 4, locked: 1, sold: 0 });
  });
});
