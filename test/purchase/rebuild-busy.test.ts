/**
 * Redis loses one sale while its reservations are still in the order pipeline (here no worker runs,
 * so what was published before the loss is never persisted, however long one waits). MySQL still
 * shows the full stock: a rebuild from it would sell those units again — more 202s than units, the
 * later orders FAILED OUT_OF_STOCK. So the lost sale is not rebuilt, and its buyers hear 503 BUSY
 * with Retry-After for as long as that lasts; nothing recovers only by an operator's call either
 * (the admin preheat answers the same BUSY). And the rebuild's wait is not a Redis failure: another
 * sale on the same Redis keeps selling meanwhile, its circuit closed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deleteRedisPrefix } from '../support/env.ts';
import { startTestApp, type TestApp } from '../support/http.ts';

let t: TestApp;
before(async () => {
  // API only: the order worker, the pipeline a rebuild waits for, never drains.
  t = await startTestApp({ SECKILL_ROLES: 'api' }, 'rbusy');
});
after(async () => {
  await t?.close();
});

/** Deletes every Redis key of one activity (its hash tag), as a Redis that lost it would have. */
const forget = (activityId: string) =>
  deleteRedisPrefix(t.app.infra.keys.activity(activityId).remaining.replace(/:remaining$/, ''), t.env.env.SECKILL_REDIS_URL);

test('a sale Redis lost while its reservations are in Kafka answers BUSY, and the other sales keep selling', { timeout: 120_000 }, async () => {
  const lost = String((await t.createSale({ stock: 2 })).activity.id);
  const other = String((await t.createSale({ stock: 100_000 })).activity.id);
  const won = await t.buy('early', lost, 'r1');
  assert.equal(won.status, 202, 'a reservation published before the loss, never persisted');
  await forget(lost);

  // While a new buyer, the first winner's replay and the operator's preheat of the lost sale wait on
  // the rebuild, the other sale answers at once, again and again.
  const waiting = Promise.all([t.buy('late', lost, 'r1'), t.buy('early', lost, 'r1'), t.admin('POST', `/api/v1/admin/activities/${lost}/preheat`)]);
  const others: Array<{ status: number; code?: string }> = [];
  const started = Date.now();
  while (Date.now() - started < 3000) {
    const r = await t.buy(`o${others.length}`, other, 'r1');
    others.push({ status: r.status, code: r.body?.error?.code });
  }
  for (const refused of await waiting) {
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'BUSY');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After');
  }
  assert.ok(others.length > 10, `${others.length} purchases of the other sale`);
  assert.deepEqual(others.filter((r) => r.status !== 202), [], 'the other sale answered at once, every time');
  assert.equal(t.app.services.guard.breaker.state, 'closed', 'the rebuild wait is not a Redis failure');
  assert.equal(await t.app.infra.redis.exists(t.app.infra.keys.activity(lost).remaining), 0, 'nothing of the lost sale on offer');
});
