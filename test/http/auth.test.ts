/**
 * Who may call what: user JWTs (HS256, `sub` = user id, `exp` honoured), the admin
 * token, other users' orders hidden, and the dev token endpoint only when enabled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSigner } from 'fast-jwt';
import { TEST_SECRETS } from '../support/env.ts';
import { call, type Json, startTestApp, type TestApp, waitFor } from '../support/http.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const goodSigner = createSigner({ key: TEST_SECRETS.SECKILL_JWT_SECRET, algorithm: 'HS256' });
const wrongSigner = createSigner({ key: 'some-other-secret-0123456789', algorithm: 'HS256' });
const future = () => Math.floor(Date.now() / 1000) + 3600;

const BAD_AUTH: Record<string, string | undefined> = {
  missing: undefined,
  'empty bearer': 'Bearer ',
  'not a JWT': 'Bearer not-a-jwt',
  'three garbage parts': 'Bearer aaa.bbb.ccc',
  'Basic scheme': `Basic ${Buffer.from('u1:pw').toString('base64')}`,
  'token without scheme': goodSigner({ sub: 'u1', exp: future() }),
  'wrong signature': `Bearer ${wrongSigner({ sub: 'u1', exp: future() })}`,
  expired: `Bearer ${goodSigner({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 60 })}`,
  'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', exp: future() })}.`,
  'alg none, no dot': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', exp: future() })}`,
  'HS512 with the right secret': `Bearer ${createSigner({ key: TEST_SECRETS.SECKILL_JWT_SECRET, algorithm: 'HS512' })({ sub: 'u1', exp: future() })}`,
  'tampered payload': (() => {
    const [h, , s] = goodSigner({ sub: 'u1', exp: future() }).split('.');
    return `Bearer ${h}.${b64({ sub: 'admin', exp: future() })}.${s}`;
  })(),
  'no sub': `Bearer ${goodSigner({ exp: future() })}`,
  'numeric sub': `Bearer ${goodSigner({ sub: 42, exp: future() })}`,
  'sub with a space': `Bearer ${goodSigner({ sub: 'bad user', exp: future() })}`,
  'sub of 65 chars': `Bearer ${goodSigner({ sub: 'x'.repeat(65), exp: future() })}`,
  'empty sub': `Bearer ${goodSigner({ sub: '', exp: future() })}`,
};

function assertUnauthorized(reply: { status: number; body: Json }, what: string) {
  assert.equal(reply.status, 401, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.error.code, 'UNAUTHORIZED', what);
  assert.equal(typeof reply.body.error.message, 'string');
}

describe('authentication', () => {
  let t: TestApp;
  let activityId: string;
  let orderId: string;
  before(async () => {
    t = await startTestApp({}, 'auth');
    activityId = (await t.createSale({ stock: 10 })).activity.id;
    const reply = await t.buy('owner', activityId, 'r1');
    assert.equal(reply.status, 202);
    orderId = reply.body.orderId;
  });
  after(async () => {
    await t?.close();
  });

  for (const [name, auth] of Object.entries(BAD_AUTH)) {
    test(`user token ${name} → 401 on purchase, GET order and my-order`, async () => {
      assertUnauthorized(await call(t.url, 'POST', `/api/v1/activities/${activityId}/purchase`, { auth, body: { requestId: 'x' } }), 'purchase');
      assertUnauthorized(await call(t.url, 'GET', `/api/v1/orders/${orderId}`, { auth }), 'get order');
      assertUnauthorized(await call(t.url, 'GET', `/api/v1/activities/${activityId}/my-order`, { auth }), 'my-order');
    });
  }

  test('a 401 reserves nothing', async () => {
    const s = await t.stats(activityId);
    assert.equal(s.redis.remaining, 9);
    assert.equal(s.orders.QUEUED + s.orders.PENDING_PAYMENT, 1);
  });

  test('a token with a valid exp and sub works; the user id comes from the token, not the body', async () => {
    const auth = `Bearer ${goodSigner({ sub: 'body-user', exp: future() })}`;
    const reply = await call(t.url, 'POST', `/api/v1/activities/${activityId}/purchase`, {
      auth,
      body: { requestId: 'r1', userId: 'someone-else' },
    });
    assert.equal(reply.status, 202);
    const order = await waitFor(async () => {
      const got = await call(t.url, 'GET', `/api/v1/orders/${reply.body.orderId}`, { auth });
      return got.status === 200 ? got.body.order : undefined;
    });
    assert.equal(order.userId, 'body-user');
    const mine = await call(t.url, 'GET', `/api/v1/orders/${reply.body.orderId}?userId=someone-else`, { auth: `Bearer ${t.token('someone-else')}` });
    assert.equal(mine.status, 404);
  });

  test("another user's order is 404 NOT_FOUND, queued or persisted; an unknown id too", async () => {
    const other = await t.user('intruder', 'GET', `/api/v1/orders/${orderId}`);
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'NOT_FOUND');
    await waitFor(async () => (await t.user('owner', 'GET', `/api/v1/orders/${orderId}`)).body.order?.status === 'PENDING_PAYMENT');
    const later = await t.user('intruder', 'GET', `/api/v1/orders/${orderId}`);
    assert.equal(later.status, 404);
    assert.deepEqual(Object.keys(later.body), ['error']);
    const unknown = await t.user('owner', 'GET', '/api/v1/orders/123456789012345');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
    assert.equal(later.body.error.message, unknown.body.error.message, 'the same answer: existence is not leaked');
    const mine = await t.user('intruder', 'GET', `/api/v1/activities/${activityId}/my-order`);
    assert.equal(mine.status, 404);
  });

  test('admin endpoints: no token, wrong token, a user JWT → 401', async () => {
    const candidates: Array<string | undefined> = [
      undefined,
      'Bearer wrong-admin-token',
      `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}x`,
      TEST_SECRETS.SECKILL_ADMIN_TOKEN,
      `Bearer ${t.token('admin')}`,
    ];
    const calls: Array<[string, string, unknown]> = [
      ['POST', '/api/v1/admin/commodities', { name: 'x', priceCents: 1 }],
      ['POST', '/api/v1/admin/activities', { name: 'x' }],
      ['GET', `/api/v1/admin/activities/${activityId}/stats`, undefined],
      ['POST', `/api/v1/admin/activities/${activityId}/preheat`, undefined],
      ['POST', `/api/v1/admin/activities/${activityId}/reconcile`, undefined],
    ];
    for (const auth of candidates) {
      for (const [method, path, body] of calls) {
        assertUnauthorized(await call(t.url, method, path, { auth, body }), `${method} ${path} with ${auth}`);
      }
    }
    const ok = await t.admin('GET', `/api/v1/admin/activities/${activityId}/stats`);
    assert.equal(ok.status, 200);
  });

  test('POST /api/v1/dev/token is 404 unless SECKILL_DEV_TOKENS=1', async () => {
    const reply = await call(t.url, 'POST', '/api/v1/dev/token', { body: { userId: 'u1' } });
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error.code, 'NOT_FOUND');
  });
});

describe('dev tokens enabled', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_DEV_TOKENS: '1' }, 'devtok');
  });
  after(async () => {
    await t?.close();
  });

  test('POST /api/v1/dev/token issues a working token; a bad userId is 400', async () => {
    const { activity } = await t.createSale({ stock: 3 });
    const issued = await call(t.url, 'POST', '/api/v1/dev/token', { body: { userId: 'dev-user' } });
    assert.equal(issued.status, 200);
    assert.equal(typeof issued.body.token, 'string');
    const auth = `Bearer ${issued.body.token}`;
    const bought = await call(t.url, 'POST', `/api/v1/activities/${activity.id}/purchase`, { auth, body: { requestId: 'r1' } });
    assert.equal(bought.status, 202);
    const order = await call(t.url, 'GET', `/api/v1/orders/${bought.body.orderId}`, { auth });
    assert.equal(order.status, 200);
    assert.equal(order.body.order.userId, 'dev-user');
    const bad = await call(t.url, 'POST', '/api/v1/dev/token', { body: { userId: 'bad user!' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_REQUEST');
  });
});
