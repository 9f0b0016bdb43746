/**
 * Running a sale from the console's API: a commodity list for the picker; pause (every instance
 * refuses purchases with 403 PAUSED and reserves nothing), resume, end early; each admin activity
 * shows its status; every change is in the audit log with who, what, on what and when.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type App, startApp } from '../../src/app/app.ts';
import { TEST_SECRETS } from '../support/env.ts';
import { call, type Json, startTestApp, type TestApp, token, waitFor } from '../support/http.ts';

const ADMIN = `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}`;

describe('the console API: commodities, pause, resume, end early, status, audit', () => {
  let t: TestApp;
  let other: App;
  const as = (actor: string | undefined, method: string, path: string, body?: unknown) =>
    call(t.url, method, path, { auth: ADMIN, body, ...(actor === undefined ? {} : { headers: { 'x-seckill-actor': actor } }) });
  const buyOn = (url: string, user: string, activityId: string) =>
    call(url, 'POST', `/api/v1/activities/${activityId}/purchase`, { auth: `Bearer ${token(user)}`, body: { requestId: `r-${user}` } });

  before(async () => {
    t = await startTestApp({}, 'con');
    // A second instance on the same Redis and MySQL: a pause must reach its purchase path too.
    other = await startApp({ ...t.env.config, roles: ['api'] }, { port: 0 });
  });
  after(async () => {
    await other?.close();
    await t?.close();
  });

  it('lists commodities newest first', async () => {
    const a = await as('alice', 'POST', '/api/v1/admin/commodities', { name: 'Kettle', priceCents: 2500 });
    const b = await as('alice', 'POST', '/api/v1/admin/commodities', { name: 'Teapot', priceCents: 1500, category: 'kitchen' });
    const list = await as('alice', 'GET', '/api/v1/admin/commodities');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.commodities.slice(0, 2).map((c: Json) => [c.id, c.name, c.priceCents, c.category]),
      [
        [b.body.commodity.id, 'Teapot', 1500, 'kitchen'],
        [a.body.commodity.id, 'Kettle', 2500, null],
      ],
    );
    assert.equal((await call(t.url, 'GET', '/api/v1/admin/commodities')).status, 401);
  });

  it('pauses a sale on every instance without reserving, resumes it, and shows the status', async () => {
    const { activity } = await t.createSale({ stock: 5 });
    assert.equal(activity.status, 'LIVE');
    assert.equal(activity.paused, false);
    // Both instances have the activity cached before the pause.
    assert.equal((await buyOn(other.url ?? '', 'warm', activity.id)).status, 202);

    const paused = await as('bob', 'POST', `/api/v1/admin/activities/${activity.id}/pause`);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.deepEqual([paused.body.activity.paused, paused.body.activity.status], [true, 'PAUSED']);
    for (const url of [t.url, other.url ?? '']) {
      const refused = await waitFor(async () => {
        const r = await buyOn(url, `during-${url.slice(-5)}`, activity.id);
        return r.status === 403 ? r : undefined;
      }, 2000, 'a purchase refused while paused');
      assert.equal(refused?.body.error.code, 'PAUSED');
    }
    assert.equal((await t.stats(activity.id)).redis.remaining, 4, 'nothing reserved while paused');
    const detail = await call(t.url, 'GET', `/api/v1/activities/${activity.id}`);
    assert.equal(detail.body.activity.paused, true);
    const listed = (await as('bob', 'GET', '/api/v1/admin/activities')).body.activities.find((a: Json) => a.id === activity.id);
    assert.equal(listed.status, 'PAUSED');
    assert.equal((await as('bob', 'POST', `/api/v1/admin/activities/${activity.id}/pause`)).body.activity.status, 'PAUSED', 'idempotent');

    const resumed = await as('bob', 'POST', `/api/v1/admin/activities/${activity.id}/resume`);
    assert.deepEqual([resumed.body.activity.paused, resumed.body.activity.status], [false, 'LIVE']);
    await waitFor(async () => (await buyOn(other.url ?? '', 'after', activity.id)).status === 202, 2000, 'buying again after resume');
    assert.equal((await as('bob', 'POST', '/api/v1/admin/activities/999999/pause')).status, 404);
  });

  it('ends a sale early (live or upcoming) by the server clock', async () => {
    const { activity } = await t.createSale({ stock: 3 });
    const ended = await as('carol', 'POST', `/api/v1/admin/activities/${activity.id}/end`);
    assert.equal(ended.status, 200);
    assert.equal(ended.body.activity.status, 'ENDED');
    assert.ok(Date.parse(ended.body.activity.endAt) <= Date.now());
    const refused = await waitFor(async () => {
      const r = await buyOn(t.url, 'late', activity.id);
      return r.status === 403 ? r : undefined;
    }, 2000, 'ENDED');
    assert.equal(refused?.body.error.code, 'ENDED');
    const again = await as('carol', 'POST', `/api/v1/admin/activities/${activity.id}/end`);
    assert.equal(again.body.activity.endAt, ended.body.activity.endAt, 'ending an ended sale changes nothing');

    const upcoming = await t.createSale({ stock: 3, startAt: new Date(Date.now() + 3_600_000), endAt: new Date(Date.now() + 7_200_000) });
    assert.equal(upcoming.activity.status, 'UPCOMING');
    const cancelled = await as('carol', 'POST', `/api/v1/admin/activities/${upcoming.activity.id}/end`);
    assert.equal(cancelled.body.activity.status, 'ENDED');
    assert.ok(Date.parse(cancelled.body.activity.startAt) < Date.parse(cancelled.body.activity.endAt));
  });

  it('records who did what, on what and when; a bad actor name is refused and changes nothing', async () => {
    const { activity } = await t.createSale({ stock: 2 });
    const started = Date.now();
    await as('dave.ops', 'PATCH', `/api/v1/admin/activities/${activity.id}`, { name: 'Renamed' });
    await as(undefined, 'POST', `/api/v1/admin/activities/${activity.id}/pause`);
    const bad = await as('bad\tname', 'POST', `/api/v1/admin/activities/${activity.id}/resume`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_REQUEST');
    assert.equal((await t.admin('GET', `/api/v1/activities/${activity.id}`)).body.activity.paused, true, 'the refused resume changed nothing');

    const log = await as('dave.ops', 'GET', '/api/v1/admin/audit?limit=3');
    assert.equal(log.status, 200);
    const [pause, patch, create] = log.body.entries as Json[];
    assert.deepEqual([pause.action, pause.target, pause.status], ['activity.pause', activity.id, 200]);
    assert.match(pause.actor, /^admin@token:[0-9a-f]{8}$/, 'no name given: "admin" and the token fingerprint');
    assert.deepEqual([patch.action, patch.target, JSON.parse(patch.detail)], ['activity.update', activity.id, { name: 'Renamed' }]);
    assert.match(patch.actor, /^dave\.ops@token:[0-9a-f]{8}$/);
    assert.deepEqual([create.action, create.target, create.status], ['activity.create', activity.id, 201]);
    assert.ok(Date.parse(pause.at) >= started - 1000 && Date.parse(pause.at) <= Date.now() + 1000);
    assert.ok(!JSON.stringify(log.body).includes(TEST_SECRETS.SECKILL_ADMIN_TOKEN), 'no secret in the log');

    const next = await as('dave.ops', 'GET', `/api/v1/admin/audit?limit=2&before=${patch.id}`);
    assert.deepEqual(
      next.body.entries.map((e: Json) => e.id),
      [create.id, ...next.body.entries.slice(1).map((e: Json) => e.id)],
    );
    assert.equal((await as('dave.ops', 'GET', '/api/v1/admin/audit?limit=0')).status, 400);
  });
});
