/**
 * The edges of the purchase path: bad bodies and ids → 400 INVALID_REQUEST with the
 * error shape, unknown things → 404, the sale window → 403, the public detail and its status, the
 * server time, and the WebSocket push of an order's status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, type Json, startTestApp, type TestApp, waitFor } from '../support/http.ts';

function assertError(reply: { status: number; body: Json }, status: number, code: string, what: string) {
  assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body?.error?.code, code, what);
  assert.equal(typeof reply.body.error.message, 'string', what);
  assert.ok(reply.body.error.message.length > 0, what);
}

describe('validation and the sale window', () => {
  let t: TestApp;
  let live: Json;
  let commodityId: string;
  before(async () => {
    t = await startTestApp({}, 'valid');
    const sale = await t.createSale({ stock: 5, limitPerUser: 2 });
    live = sale.activity;
    commodityId = sale.commodityId;
  });
  after(async () => {
    await t?.close();
  });

  const purchase = (body: string | Record<string, unknown>, activityId = live.id as string, user = 'v-user') =>
    call(t.url, 'POST', `/api/v1/activities/${activityId}/purchase`, {
      auth: `Bearer ${t.token(user)}`,
      ...(typeof body === 'string' ? { rawBody: body } : { body }),
    });

  const BAD_PURCHASES: Record<string, string | Record<string, unknown>> = {
    'missing requestId': { quantity: 1 },
    'empty requestId': { requestId: '' },
    'requestId of 65 chars': { requestId: 'r'.repeat(65) },
    'numeric requestId': { requestId: 12345 },
    'quantity 0': { requestId: 'q0', quantity: 0 },
    'quantity "1"': { requestId: 'qs', quantity: '1' },
    'quantity 101': { requestId: 'q101', quantity: 101 },
    'quantity 1.5': { requestId: 'q15', quantity: 1.5 },
    'quantity -1': { requestId: 'qm', quantity: -1 },
    'malformed JSON': '{"requestId": "x",',
    'JSON array': '[1,2]',
  };

  for (const [name, body] of Object.entries(BAD_PURCHASES)) {
    test(`purchase with ${name} → 400 INVALID_REQUEST`, async () => {
      assertError(await purchase(body), 400, 'INVALID_REQUEST', name);
    });
  }

  test('a 64-char requestId is fine, and nothing was reserved by the bad requests', async () => {
    const s = await t.stats(live.id);
    assert.equal(s.redis.remaining, 5);
    const ok = await purchase({ requestId: 'r'.repeat(64) });
    assert.equal(ok.status, 202);
    assert.match(ok.body.orderId, /^\d+$/);
    assert.deepEqual(Object.keys(ok.body).sort(), ['orderId', 'status']);
    assert.equal(ok.body.status, 'QUEUED');
  });

  test('non-numeric or absurd activity ids → 400; unknown activity → 404', async () => {
    for (const id of ['abc', '12a', '-1', '1.5', '1'.repeat(21)]) {
      assertError(await purchase({ requestId: 'x' }, id), 400, 'INVALID_REQUEST', `purchase ${id}`);
      assertError(await call(t.url, 'GET', `/api/v1/activities/${id}`), 400, 'INVALID_REQUEST', `detail ${id}`);
    }
    assertError(await purchase({ requestId: 'x' }, '987654321'), 404, 'NOT_FOUND', 'unknown purchase');
    assertError(await call(t.url, 'GET', '/api/v1/activities/987654321'), 404, 'NOT_FOUND', 'unknown detail');
    assertError(await t.user('v-user', 'GET', '/api/v1/orders/not-a-number'), 400, 'INVALID_REQUEST', 'order id');
  });

  test('bad activities → 400 INVALID_REQUEST; unknown commodity → 404', async () => {
    const start = new Date(Date.now() + 60_000);
    const end = new Date(Date.now() + 3_600_000);
    const base = { name: 'A', commodityId, priceCents: 100, stock: 10, startAt: start.toISOString(), endAt: end.toISOString() };
    const bad: Record<string, Record<string, unknown>> = {
      'stock 0': { stock: 0 },
      'stock 10,000,001': { stock: 10_000_001 },
      'stock "10"': { stock: '10' },
      'limitPerUser 0': { limitPerUser: 0 },
      'limitPerUser 101': { limitPerUser: 101 },
      'paymentTimeoutSeconds 86401': { paymentTimeoutSeconds: 86_401 },
      'challengeDifficulty 33': { challengeDifficulty: 33 },
      'negative price': { priceCents: -1 },
      'endAt = startAt': { endAt: start.toISOString() },
      'endAt < startAt': { endAt: new Date(start.getTime() - 1000).toISOString() },
      'bad startAt': { startAt: 'tomorrow at noon' },
      'date only': { startAt: '2031-01-01', endAt: '2031-01-02' },
      'bad endAt': { endAt: '2031-13-45T99:99:99Z' },
      'missing name': { name: undefined },
      'bad commodity id': { commodityId: 'abc' },
    };
    for (const [name, change] of Object.entries(bad)) {
      assertError(await t.admin('POST', '/api/v1/admin/activities', { ...base, ...change }), 400, 'INVALID_REQUEST', name);
    }
    assertError(await t.admin('POST', '/api/v1/admin/activities', { ...base, commodityId: '99999999' }), 404, 'NOT_FOUND', 'unknown commodity');
    const edge = await t.admin('POST', '/api/v1/admin/activities', { ...base, stock: 10_000_000, limitPerUser: 100 });
    assert.equal(edge.status, 201, JSON.stringify(edge.body));
    assert.equal(edge.body.activity.stock, 10_000_000);
    assert.equal(edge.body.activity.limitPerUser, 100);
  });

  test('not started → 403 NOT_STARTED; ended → 403 ENDED; nothing reserved', async () => {
    const { activity: upcoming } = await t.createSale({ stock: 3, startAt: new Date(Date.now() + 3_600_000), endAt: new Date(Date.now() + 7_200_000) });
    assertError(await purchase({ requestId: 'early' }, upcoming.id), 403, 'NOT_STARTED', 'upcoming');
    const { activity: ended } = await t.createSale({ stock: 3, startAt: new Date(Date.now() - 3_600_000), endAt: new Date(Date.now() - 60_000) });
    assertError(await purchase({ requestId: 'late' }, ended.id), 403, 'ENDED', 'ended');
    assert.equal((await t.stats(upcoming.id)).redis.remaining, 3, 'pre-heated before the start, untouched');
    assert.equal((await t.stats(ended.id)).db.available, 3);
  });

  test('GET /api/v1/activities/{id}: shape and UPCOMING / LIVE / SOLD_OUT / ENDED', async () => {
    const detail = async (id: string) => {
      const r = await call(t.url, 'GET', `/api/v1/activities/${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.activity;
    };
    const { activity: one } = await t.createSale({ stock: 1, priceCents: 1234 });
    const a = await detail(one.id);
    for (const [key, type] of Object.entries({ id: 'string', name: 'string', priceCents: 'number', startAt: 'string', endAt: 'string', limitPerUser: 'number', status: 'string', remaining: 'number', commodity: 'object' })) {
      assert.equal(typeof a[key], type, key);
    }
    assert.equal(a.id, one.id);
    assert.equal(a.priceCents, 1234);
    assert.equal(a.startAt, one.startAt);
    assert.equal(new Date(a.endAt).toISOString(), a.endAt);
    assert.equal(a.status, 'LIVE');
    assert.equal(a.remaining, 1);
    for (const key of ['id', 'name', 'description', 'priceCents', 'category']) assert.ok(key in a.commodity, `commodity.${key}`);
    assert.equal(typeof a.commodity.id, 'string');

    assert.equal((await purchase({ requestId: 'last' }, one.id, 'sold-out-buyer')).status, 202);
    await waitFor(async () => (await detail(one.id)).status === 'SOLD_OUT', 5000, 'SOLD_OUT');
    assert.equal((await detail(one.id)).remaining, 0);

    const { activity: upcoming } = await t.createSale({ stock: 2, startAt: new Date(Date.now() + 3_600_000), endAt: new Date(Date.now() + 7_200_000) });
    assert.equal((await detail(upcoming.id)).status, 'UPCOMING');
    const { activity: ended } = await t.createSale({ stock: 2, startAt: new Date(Date.now() - 3_600_000), endAt: new Date(Date.now() - 60_000) });
    assert.equal((await detail(ended.id)).status, 'ENDED');
  });

  test('GET /api/v1/time', async () => {
    const before = Date.now();
    const r = await call(t.url, 'GET', '/api/v1/time');
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.epochMs, 'number');
    assert.equal(typeof r.body.now, 'string');
    assert.equal(new Date(r.body.now).toISOString(), r.body.now, 'ISO-8601 UTC');
    assert.equal(Date.parse(r.body.now), r.body.epochMs);
    assert.ok(Math.abs(r.body.epochMs - before) < 5000);
  });
});

describe('WebSocket /api/v1/ws', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 'ws');
  });
  after(async () => {
    await t?.close();
  });

  const wsUrl = (query: string) => `${t.url.replace(/^http/, 'ws')}/api/v1/ws${query}`;

  test('pushes the order when it becomes PENDING_PAYMENT', async () => {
    const { activity } = await t.createSale({ stock: 2 });
    const messages: Json[] = [];
    const socket = new WebSocket(wsUrl(`?token=${t.token('ws-user')}`));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener('open', () => resolve());
        socket.addEventListener('error', () => reject(new Error('websocket refused')));
      });
      socket.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
      const reply = await t.buy('ws-user', activity.id, 'r1');
      assert.equal(reply.status, 202);
      const pushed = await waitFor(
        () => messages.find((m) => m.type === 'order' && m.order?.orderId === reply.body.orderId && m.order.status === 'PENDING_PAYMENT'),
        20_000,
        () => `the push (got ${JSON.stringify(messages)})`,
      );
      assert.equal(pushed.order.userId, 'ws-user');
      assert.equal(pushed.order.activityId, activity.id);
      assert.equal(pushed.order.quantity, 1);
      assert.equal(typeof pushed.order.expiresAt, 'string');
      // Nobody else's orders arrive on this socket.
      assert.equal((await t.buy('ws-other', activity.id, 'r1')).status, 202);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(messages.every((m) => m.type !== 'order' || m.order.userId === 'ws-user'));
    } finally {
      socket.close();
    }
  });

  for (const [name, query] of Object.entries({ 'no token': '', 'bad token': '?token=nope', 'wrong signature': '?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.x' })) {
    test(`a connection with ${name} is refused`, async () => {
      const socket = new WebSocket(wsUrl(query));
      const opened = await new Promise<boolean>((resolve) => {
        socket.addEventListener('open', () => resolve(true));
        socket.addEventListener('error', () => resolve(false));
        socket.addEventListener('close', () => resolve(false));
      });
      socket.close();
      assert.equal(opened, false);
    });
  }
});
