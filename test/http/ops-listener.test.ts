/**
 * Ops endpoints apart: with an ops listener configured, /metrics, /docs, the admin API and the
 * console answer there only, and the public port answers them 404 as if they did not exist (before
 * any authentication); buyer routes are not on the ops port; health checks are on both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type App, startApp } from '../../src/app/app.ts';
import { TEST_SECRETS, type TestEnv, testEnv } from '../support/env.ts';
import { call, liveTickWhere } from '../support/http.ts';

const ADMIN = `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}`;

describe('the ops listener (SECKILL_OPS_PORT)', () => {
  let env: TestEnv;
  let app: App;
  let pub: string;
  let ops: string;

  before(async () => {
    env = testEnv({ SECKILL_OPS_PORT: '0' }, 'ops');
    app = await startApp(env.config, { port: 0 });
    pub = app.url ?? '';
    ops = app.opsUrl ?? '';
    assert.match(ops, /^http:\/\/127\.0\.0\.1:\d+$/, 'the ops listener is on loopback by default');
    assert.notEqual(ops, pub);
  });
  after(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('serves metrics, docs, the admin API and the console on the ops port only', async () => {
    for (const path of ['/metrics', '/docs', '/docs/json', '/admin']) {
      assert.equal((await call(ops, 'GET', path)).status, 200, `ops ${path}`);
      const hidden = await call(pub, 'GET', path);
      assert.equal(hidden.status, 404, `public ${path}`);
      assert.equal(hidden.body.error.code, 'NOT_FOUND');
    }
    // With the right token and without: the public port does not even say the route exists.
    for (const auth of [ADMIN, undefined]) {
      const hidden = await call(pub, 'GET', '/api/v1/admin/activities', auth === undefined ? {} : { auth });
      assert.equal(hidden.status, 404);
    }
    assert.equal((await call(ops, 'GET', '/api/v1/admin/activities')).status, 401, 'the ops port still wants the admin token');
    const commodity = await call(ops, 'POST', '/api/v1/admin/commodities', { auth: ADMIN, body: { name: 'Jar', priceCents: 100 } });
    assert.equal(commodity.status, 201);
    assert.equal((await call(pub, 'POST', '/api/v1/admin/commodities', { auth: ADMIN, body: { name: 'Jar', priceCents: 100 } })).status, 404);
    const created = await call(ops, 'POST', '/api/v1/admin/activities', {
      auth: ADMIN,
      body: {
        name: 'Jars',
        commodityId: commodity.body.commodity.id,
        priceCents: 100,
        stock: 3,
        startAt: new Date(Date.now() - 60_000).toISOString(),
        endAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    assert.equal(created.status, 201);
    const tick = await liveTickWhere(ops, created.body.activity.id, () => true);
    assert.equal(tick.stats.stock, 3, 'the live feed streams on the ops port');
    // The public product detail still works.
    assert.equal((await call(pub, 'GET', `/api/v1/activities/${created.body.activity.id}`)).status, 200);
  });

  it('keeps buyer routes off the ops port and health checks on both', async () => {
    assert.equal((await call(pub, 'GET', '/api/v1/time')).status, 200);
    assert.equal((await call(ops, 'GET', '/api/v1/time')).status, 404);
    for (const url of [pub, ops]) {
      assert.equal((await call(url, 'GET', '/healthz')).status, 200);
      assert.equal((await call(url, 'GET', '/readyz')).status, 200);
    }
  });
});
