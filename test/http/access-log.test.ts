/**
 * The access log and request ids: one structured line per request, an X-Request-Id on
 * every response (the caller's when it is safe), and no secret in the log — not the Authorization
 * header, not a `?token=`. And a token in the query authenticates the WebSocket only.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { type App, startApp } from '../../src/app/app.ts';
import { TEST_SECRETS, type TestEnv, testEnv } from '../support/env.ts';
import { call, type Json, token, waitFor } from '../support/http.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADMIN = `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}`;

describe('access log and request ids', () => {
  let env: TestEnv;
  let app: App;
  let url: string;
  const lines: string[] = [];
  const accessLines = () => lines.map((l) => JSON.parse(l) as Json).filter((l) => l.msg === 'request');
  /** The access line of the request with this id (it is written just after the response). */
  const lineOf = (reqId: string) =>
    waitFor(() => accessLines().find((l) => l.reqId === reqId), 5000, `the access line of ${reqId}`);

  before(async () => {
    env = testEnv({}, 'al');
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    app = await startApp(env.config, { port: 0, log: pino({ level: 'info' }, sink) });
    url = app.url ?? '';
  });
  after(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('writes one line per request: method, route, status, duration, user, request id', async () => {
    const res = await call(url, 'GET', '/api/v1/orders/123456789', { auth: `Bearer ${token('alice')}`, headers: { 'x-request-id': 'trace-42.a:b' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-request-id'), 'trace-42.a:b');
    const line = await lineOf('trace-42.a:b');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/api/v1/orders/:orderId');
    assert.equal(line.url, '/api/v1/orders/123456789');
    assert.equal(line.status, 404);
    assert.equal(line.userId, 'alice');
    assert.equal(typeof line.ms, 'number');
    assert.ok(line.ms >= 0);
    assert.equal(line.level, 30, 'info');
    assert.equal(accessLines().filter((l) => l.reqId === 'trace-42.a:b').length, 1, 'exactly one line');

    const anonymous = await call(url, 'GET', '/api/v1/time');
    const anonymousLine = await lineOf(anonymous.headers.get('x-request-id') ?? '');
    assert.equal(anonymousLine.userId, undefined);
    assert.equal(anonymousLine.status, 200);
  });

  it('carries the client IP (X-Forwarded-For ignored unless the proxy is trusted) and the user agent', async () => {
    const res = await call(url, 'GET', '/api/v1/time', { headers: { 'x-request-id': 'with-client', 'user-agent': 'Probe/1.0', 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(res.status, 200);
    const line = await lineOf('with-client');
    assert.equal(line.ip, '127.0.0.1', 'a header anyone can send does not name the client');
    assert.equal(line.ua, 'Probe/1.0');

    const proxied: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        proxied.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const behindProxy = await startApp({ ...env.config, rate: { ...env.config.rate, trustProxy: true } }, { port: 0, log: pino({ level: 'info' }, sink) });
    try {
      await call(behindProxy.url ?? '', 'GET', '/api/v1/time', { headers: { 'x-request-id': 'via-proxy', 'x-forwarded-for': '203.0.113.7' } });
      const viaProxy = await waitFor(() => proxied.map((l) => JSON.parse(l) as Json).find((l) => l.reqId === 'via-proxy'), 5000, 'the proxied line');
      assert.equal(viaProxy.ip, '203.0.113.7', 'SECKILL_TRUST_PROXY=1: the address the proxy saw');
    } finally {
      await behindProxy.close();
    }
  });

  it('counts refusals instead of logging one info line each', async () => {
    const commodity = await call(url, 'POST', '/api/v1/admin/commodities', { auth: ADMIN, body: { name: 'Cup', priceCents: 100 } });
    const activity = await call(url, 'POST', '/api/v1/admin/activities', {
      auth: ADMIN,
      body: {
        name: 'Later',
        commodityId: commodity.body.commodity.id,
        priceCents: 100,
        stock: 1,
        startAt: new Date(Date.now() + 3_600_000).toISOString(),
        endAt: new Date(Date.now() + 7_200_000).toISOString(),
      },
    });
    const path = `/api/v1/activities/${activity.body.activity.id}/purchase`;
    for (let i = 0; i < 3; i++) {
      const refused = await call(url, 'POST', path, { auth: `Bearer ${token(`early-${i}`)}`, body: { requestId: 'r' }, headers: { 'x-request-id': `refused-${i}` } });
      assert.equal(refused.body.error?.code, 'NOT_STARTED');
    }
    // A later request's line is written after the refusals' would have been.
    await lineOf((await call(url, 'GET', '/api/v1/time')).headers.get('x-request-id') ?? '');
    assert.equal(accessLines().filter((l) => String(l.reqId).startsWith('refused-')).length, 0, 'no info line per refusal');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counted = new RegExp(`^seckill_http_refusals_total\\{route="/api/v1/activities/:id/purchase",code="NOT_STARTED"\\} (\\d+)`, 'm').exec(metrics);
    assert.ok(counted && Number(counted[1]) >= 3, `counted: ${counted?.[0]}`);
  });

  it('replaces an unsafe or oversized X-Request-Id with a fresh one, and makes one when there is none', async () => {
    for (const given of ['has space', 'x'.repeat(129), 'quote"d', 'new\\nline', '']) {
      const res = await call(url, 'GET', '/api/v1/time', { headers: { 'x-request-id': given } });
      assert.equal(res.status, 200, 'a bad id is replaced, not refused');
      assert.match(res.headers.get('x-request-id') ?? '', UUID, JSON.stringify(given));
    }
    const longest = 'a'.repeat(128);
    assert.equal((await call(url, 'GET', '/api/v1/time', { headers: { 'x-request-id': longest } })).headers.get('x-request-id'), longest);
    const a = (await call(url, 'GET', '/api/v1/time')).headers.get('x-request-id');
    const b = (await call(url, 'GET', '/api/v1/time')).headers.get('x-request-id');
    assert.match(a ?? '', UUID);
    assert.notEqual(a, b);
  });

  it('returns the request id on errors, unknown routes and the hijacked event stream', async () => {
    const bad = await call(url, 'POST', '/api/v1/admin/commodities', { auth: ADMIN, body: { name: '' }, headers: { 'x-request-id': 'bad-body' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('x-request-id'), 'bad-body');
    const missing = await call(url, 'GET', '/no/such/route', { headers: { 'x-request-id': 'no-route' } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-request-id'), 'no-route');
    assert.equal((await lineOf('no-route')).status, 404);

    const commodity = await call(url, 'POST', '/api/v1/admin/commodities', { auth: ADMIN, body: { name: 'Mug', priceCents: 100 } });
    const activity = await call(url, 'POST', '/api/v1/admin/activities', {
      auth: ADMIN,
      body: {
        name: 'Mugs',
        commodityId: commodity.body.commodity.id,
        priceCents: 100,
        stock: 1,
        startAt: new Date(Date.now() + 3_600_000).toISOString(),
        endAt: new Date(Date.now() + 7_200_000).toISOString(),
      },
    });
    const controller = new AbortController();
    const live = await fetch(`${url}/api/v1/admin/activities/${activity.body.activity.id}/live`, {
      headers: { authorization: ADMIN, 'x-request-id': 'live-feed' },
      signal: controller.signal,
    });
    assert.equal(live.status, 200);
    assert.match(live.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(live.headers.get('x-request-id'), 'live-feed');
    controller.abort();
  });

  it('never logs a bearer token or a ?token= value', async () => {
    const jwt = token('bob');
    await call(url, 'GET', '/api/v1/activities/1/my-order', { auth: `Bearer ${jwt}`, headers: { 'x-request-id': 'with-header' } });
    await call(url, 'GET', '/api/v1/admin/activities', { auth: ADMIN, headers: { 'x-request-id': 'with-admin' } });
    const inQuery = await call(url, 'GET', `/api/v1/activities/1/my-order?token=${jwt}&x=1`, { headers: { 'x-request-id': 'with-query' } });
    assert.equal(inQuery.status, 401, 'a token in the query is ignored outside the WebSocket');
    assert.equal(inQuery.body.error.code, 'UNAUTHORIZED');
    const line = await lineOf('with-query');
    assert.equal(line.url, '/api/v1/activities/1/my-order?token=[REDACTED]&x=1');

    // The WebSocket takes the token from the query (browsers cannot send the header)...
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/v1/ws?token=${jwt}`);
    const hello = await new Promise<Json>((resolve, reject) => {
      socket.onmessage = (event) => resolve(JSON.parse(String(event.data)));
      socket.onerror = () => reject(new Error('websocket failed'));
    });
    assert.deepEqual(hello, { type: 'hello', userId: 'bob' });
    socket.close();
    // ... and the upgrade has its access line too, with the token blanked.
    const wsLine = await waitFor(() => accessLines().find((l) => l.route === '/api/v1/ws'), 5000, 'the WebSocket access line');
    assert.deepEqual([wsLine.status, wsLine.userId, wsLine.url], [101, 'bob', '/api/v1/ws?token=[REDACTED]']);

    await lineOf('with-header');
    await lineOf('with-admin');
    const everything = lines.join('\n');
    assert.ok(!everything.includes(jwt), 'the JWT is nowhere in the log');
    assert.ok(!everything.includes(TEST_SECRETS.SECKILL_ADMIN_TOKEN), 'the admin token is nowhere in the log');
  });
});
