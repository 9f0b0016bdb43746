/**
 * The activity read path: local cache → Redis → MySQL with single-flight, cached
 * "not found", and PATCH visible on every instance within a second.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type App, startApp } from '../../src/app/app.ts';
import { findActivity } from '../../src/db/repositories/catalog.ts';
import { createActivityCache } from '../../src/inventory/activity-cache.ts';
import { call, startTestApp, type TestApp } from '../support/http.ts';
import { createActivity } from '../guard/helpers.ts';

describe('activity read path', () => {
  let t: TestApp;
  let second: App;
  before(async () => {
    t = await startTestApp({}, 'read');
    second = await startApp(t.env.config, { port: 0 });
  });
  after(async () => {
    await second?.close();
    await t?.close();
  });

  /** A cache like each instance's, with its MySQL loader counted. */
  async function countedCache() {
    const { db, redis, keys } = t.app.infra;
    const calls: string[] = [];
    const cache = await createActivityCache({
      db,
      redis,
      keys,
      pubsub: t.app.services.pubsub,
      channel: keys.activityInvalidateChannel,
      loadFromDb: (id) => {
        calls.push(id);
        return findActivity(db, id);
      },
    });
    return { cache, calls };
  }

  test('1,000 concurrent reads of a cold activity: one MySQL query per instance', async () => {
    const activity = await createActivity(t);
    const { redis, keys } = t.app.infra;
    await redis.del(keys.activity(activity.id).detail);
    const a = await countedCache();
    const results = await Promise.all(Array.from({ length: 1000 }, () => a.cache.get(activity.id)));
    assert.equal(a.calls.length, 1);
    assert.ok(results.every((r) => r?.id === activity.id && r?.name === 'Sale'));

    // Two more instances, both cold locally and Redis cold again, reading at once.
    await redis.del(keys.activity(activity.id).detail);
    const b = await countedCache();
    const c = await countedCache();
    await Promise.all([
      ...Array.from({ length: 1000 }, () => b.cache.get(activity.id)),
      ...Array.from({ length: 1000 }, () => c.cache.get(activity.id)),
    ]);
    assert.ok(b.calls.length <= 1 && c.calls.length <= 1, `b ${b.calls.length}, c ${c.calls.length}`);
    assert.ok(b.calls.length + c.calls.length >= 1);
    // A later instance finds it in Redis: no MySQL at all.
    const d = await countedCache();
    assert.equal((await d.cache.get(activity.id))?.id, activity.id);
    assert.equal(d.calls.length, 0);
    for (const x of [a, b, c, d]) x.cache.close();
  });

  test('unknown ids do not reach MySQL twice within the negative TTL', async () => {
    const a = await countedCache();
    const unknown = '987654321';
    await Promise.all(Array.from({ length: 200 }, () => a.cache.get(unknown)));
    assert.equal(a.calls.length, 1);
    for (let i = 0; i < 10; i++) assert.equal(await a.cache.get(unknown), undefined);
    assert.equal(a.calls.length, 1);
    // Another instance: the "not found" is in Redis too.
    const b = await countedCache();
    assert.equal(await b.cache.get(unknown), undefined);
    assert.equal(b.calls.length, 0);
    // And an id created later is not hidden by it: creation invalidates.
    a.cache.close();
    b.cache.close();
    const res = await call(t.url, 'GET', `/api/v1/activities/${unknown}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  });

  test('PATCH is visible on two running instances within one second', async () => {
    const activity = await createActivity(t);
    const urls = [t.url, second.url ?? ''];
    for (const url of urls) {
      const r = await call(url, 'GET', `/api/v1/activities/${activity.id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.activity.name, 'Sale');
      assert.equal(r.body.activity.remaining, 100);
      assert.equal(r.body.activity.status, 'LIVE');
    }
    const endAt = new Date(Date.now() + 7_200_000).toISOString();
    const patched = await t.admin('PATCH', `/api/v1/admin/activities/${activity.id}`, { name: 'Renamed', priceCents: 1234, endAt });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.activity.name, 'Renamed');
    assert.equal(patched.body.activity.priceCents, 1234);
    assert.equal(patched.body.activity.endAt, endAt);
    assert.equal(patched.body.activity.stock, 100);
    const changedAt = Date.now();
    for (const url of urls) {
      for (;;) {
        const r = await call(url, 'GET', `/api/v1/activities/${activity.id}`);
        if (r.body.activity.name === 'Renamed' && r.body.activity.priceCents === 1234) break;
        assert.ok(Date.now() - changedAt < 1000, `${url} still shows the old detail after 1 s`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    assert.ok(Date.now() - changedAt < 1000);

    assert.equal((await t.admin('PATCH', '/api/v1/admin/activities/99999999', { name: 'x' })).status, 404);
    const bad = await t.admin('PATCH', `/api/v1/admin/activities/${activity.id}`, { endAt: '2000-01-01T00:00:00Z' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_REQUEST');
    assert.equal((await t.admin('PATCH', `/api/v1/admin/activities/${activity.id}`, { priceCents: -1 })).status, 400);
    const unauth = await call(t.url, 'PATCH', `/api/v1/admin/activities/${activity.id}`, { body: { name: 'y' } });
    assert.equal(unauth.status, 401);
  });

  test('remaining follows Redis and the status reads SOLD_OUT when it is gone', async () => {
    const activity = await createActivity(t, { stock: 1 });
    assert.equal((await t.buy('buyer', activity.id, 'r1')).status, 202);
    await new Promise((r) => setTimeout(r, 100));
    const r = await call(t.url, 'GET', `/api/v1/activities/${activity.id}`);
    assert.equal(r.body.activity.remaining, 0);
    assert.equal(r.body.activity.status, 'SOLD_OUT');
  });
});
