/**
 * The OpenAPI document: generated from the route schemas, served at /docs/json, valid
 * by a real OpenAPI 3.1 validator, and complete — every API route has a response schema, the
 * security schemes and the WebSocket's messages are in it — and fit for a client generator:
 * operationIds, components referenced by `$ref`, declared headers, each error status with its codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ERROR_STATUS, type ErrorCode } from '../../src/domain/errors.ts';
import { call, type Json, startTestApp, type TestApp } from '../support/http.ts';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Json;

  before(async () => {
    // Dev tokens on, so the dev route is in the document too and must be described like the rest.
    t = await startTestApp({ SECKILL_DEV_TOKENS: '1' }, 'oa');
    const res = await call(t.url, 'GET', '/docs/json');
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(async () => t?.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.match(doc.openapi, /^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  it('lists every API endpoint of the contract, and no web page', () => {
    const expected = {
      '/api/v1/admin/commodities': ['post'],
      '/api/v1/admin/activities': ['get', 'post'],
      '/api/v1/admin/activities/{id}': ['patch'],
      '/api/v1/admin/activities/{id}/preheat': ['post'],
      '/api/v1/admin/activities/{id}/reconcile': ['post'],
      '/api/v1/admin/activities/{id}/stats': ['get'],
      '/api/v1/admin/activities/{id}/live': ['get'],
      '/api/v1/admin/refunds': ['get'],
      '/api/v1/admin/refunds/{paymentId}/refunded': ['post'],
      '/api/v1/time': ['get'],
      '/api/v1/activities/{id}': ['get'],
      '/api/v1/activities/{id}/purchase': ['post'],
      '/api/v1/activities/{id}/challenge': ['post'],
      '/api/v1/activities/{id}/my-order': ['get'],
      '/api/v1/activities/{id}/waitlist': ['get', 'post', 'delete'],
      '/api/v1/orders/{orderId}': ['get'],
      '/api/v1/orders/{orderId}/pay': ['post'],
      '/api/v1/orders/{orderId}/cancel': ['post'],
      '/api/v1/payments/callback': ['post'],
      '/api/v1/ws': ['get'],
      '/api/v1/dev/token': ['post'],
      '/healthz': ['get'],
      '/readyz': ['get'],
      '/metrics': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is missing`);
    }
    for (const path of Object.keys(doc.paths)) {
      assert.ok(!path.startsWith('/assets') && !path.startsWith('/docs') && path !== '/admin' && path !== '/activities/{id}', `${path} is not API`);
    }
  });

  /** Follows a local `$ref` (components only), so assertions read what a generator would. */
  const resolve = (schema: Json): Json => (schema?.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema);
  const operations = (): [string, Json][] =>
    Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method): [string, Json] => [`${method.toUpperCase()} ${path}`, item[method]]),
    );

  it('names and summarises every operation, once: a generated client has a method per operationId', () => {
    const ids = new Set<string>();
    for (const [where, op] of operations()) {
      assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${where}: operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is used twice`);
      ids.add(op.operationId);
      assert.ok(op.summary?.length > 5, `${where}: no summary`);
    }
    assert.equal(doc.paths['/api/v1/activities/{id}/purchase'].post.operationId, 'purchase');
    assert.equal(doc.paths['/api/v1/orders/{orderId}'].get.operationId, 'getOrder');
  });

  it('describes every response, and its body unless it has none', () => {
    for (const [where, op] of operations()) {
      const statuses = Object.keys(op.responses);
      assert.ok(statuses.some((status) => /^(1|2)\d\d$/.test(status)), `${where}: no success response`);
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        // Without a description the generator writes exactly this.
        assert.ok(response.description && response.description !== 'Default Response', `${where} ${status}: undescribed`);
        if (status !== '101' && status !== '204') assert.ok(response.content, `${where} ${status}: no response schema`);
      }
      // 5xx is not one range: 500 is a bug, 503 is "retry later".
      assert.ok(!statuses.includes('5XX'), `${where}: 5XX folded`);
      assert.ok(op.responses['500'] && op.responses['503'], `${where}: 500 and 503 listed`);
    }
    const live = doc.paths['/api/v1/admin/activities/{id}/live'].get.responses['200'];
    assert.ok(live.content['text/event-stream'], 'the live feed is an event stream');
  });

  it('lists each error status with its codes: the Error component narrowed per response', () => {
    const all = doc.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual([...all].sort(), Object.keys(ERROR_STATUS).sort());
    const codesOf = (op: Json, status: string): string[] => {
      const schema = op.responses[status].content['application/json'].schema;
      assert.deepEqual(schema.allOf[0], { $ref: '#/components/schemas/Error' });
      return schema.allOf[1].properties.error.properties.code.enum;
    };
    for (const [where, op] of operations()) {
      for (const status of Object.keys(op.responses).filter((s) => /^[45]\d\d$/.test(s))) {
        if (where === 'GET /readyz' && status === '503') continue;
        for (const code of codesOf(op, status)) {
          // The body parser's refusals (too large, not JSON) are INVALID_REQUEST under their own statuses.
          const parserRefusal = code === 'INVALID_REQUEST' && (status === '413' || status === '415');
          if (!parserRefusal) assert.equal(ERROR_STATUS[code as ErrorCode], Number(status), `${where} ${status}: ${code} belongs to another status`);
          assert.match(op.responses[status].description, new RegExp(code), `${where} ${status}: ${code} is not described`);
        }
      }
    }
    const purchase = doc.paths['/api/v1/activities/{id}/purchase'].post;
    assert.deepEqual(codesOf(purchase, '409'), ['SOLD_OUT', 'LIMIT_EXCEEDED']);
    assert.deepEqual(codesOf(purchase, '403'), [
      'NOT_STARTED',
      'ENDED',
      'PAUSED',
      'CHALLENGE_REQUIRED',
      'CHALLENGE_FAILED',
      'PASS_REQUIRED',
      'PASS_INVALID',
      'PASS_EXPIRED',
    ]);
    assert.deepEqual(codesOf(purchase, '429'), ['RATE_LIMITED']);
    assert.deepEqual(codesOf(purchase, '503'), ['BUSY']);
    assert.deepEqual(codesOf(doc.paths['/api/v1/payments/callback'].post, '401'), ['BAD_SIGNATURE']);
    assert.deepEqual(codesOf(doc.paths['/api/v1/orders/{orderId}/pay'].post, '409'), ['ORDER_NOT_PAYABLE']);
    const notReady = resolve(doc.paths['/readyz'].get.responses['503'].content['application/json'].schema);
    assert.deepEqual(notReady.properties.error.properties.code.enum, ['NOT_READY']);
  });

  it('declares X-Request-Id on every request and answer, and Retry-After where a retry is asked for', () => {
    const { headers, parameters } = doc.components;
    assert.equal(parameters.XRequestId.in, 'header');
    assert.equal(parameters.XRequestId.name, 'X-Request-Id');
    assert.equal(parameters.XRequestId.required, false);
    assert.equal(headers.RetryAfter.schema.type, 'integer');
    for (const [where, op] of operations()) {
      assert.ok(op.parameters.some((p: Json) => p.$ref === '#/components/parameters/XRequestId'), `${where}: X-Request-Id not accepted`);
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (status === '101') continue;
        assert.deepEqual(response.headers['X-Request-Id'], { $ref: '#/components/headers/XRequestId' }, `${where} ${status}`);
        const retry = status === '429' || (status === '503' && where !== 'GET /readyz');
        assert.equal(Boolean(response.headers['Retry-After']), retry, `${where} ${status}: Retry-After`);
      }
    }
  });

  it("declares the body parser's 413 and 415 on every operation with a body, as the server answers them", async () => {
    const withBody = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]?.requestBody).map((m) => [`${m.toUpperCase()} ${path}`, item[m]] as const),
    );
    assert.ok(withBody.some(([where]) => where === 'POST /api/v1/activities/{id}/purchase'), 'the purchase has a body');
    for (const [where, op] of withBody) {
      for (const status of ['413', '415']) {
        const schema = op.responses[status]?.content['application/json'].schema;
        assert.deepEqual(schema?.allOf?.[0], { $ref: '#/components/schemas/Error' }, `${where} ${status}`);
        assert.deepEqual(schema.allOf[1].properties.error.properties.code.enum, ['INVALID_REQUEST'], `${where} ${status}`);
      }
    }
    const purchase = `${t.url}/api/v1/activities/1/purchase`;
    const tooLarge = await fetch(purchase, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId: 'x'.repeat(70 * 1024) }) });
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as Json).error.code, 'INVALID_REQUEST');
    const notJson = await fetch(purchase, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<requestId>x</requestId>' });
    assert.equal(notJson.status, 415);
    assert.equal(((await notJson.json()) as Json).error.code, 'INVALID_REQUEST');
  });

  it('requires of clients only what the server requires: a field with a default is optional', () => {
    const body = (path: string, method = 'post') => doc.paths[path][method].requestBody.content['application/json'].schema;
    assert.deepEqual(body('/api/v1/activities/{id}/purchase').required, ['requestId']);
    assert.deepEqual([...body('/api/v1/admin/activities').required].sort(), ['commodityId', 'endAt', 'name', 'priceCents', 'startAt', 'stock']);
    const query = doc.paths['/api/v1/admin/refunds'].get.parameters.filter((p: Json) => p.in === 'query');
    assert.deepEqual(
      query.map((p: Json) => [p.name, p.required]),
      [
        ['status', false],
        ['limit', false],
        ['after', false],
      ],
    );
  });

  it('shares the objects of the contract as components, referenced rather than copied', () => {
    const { schemas } = doc.components;
    for (const name of ['Error', 'Order', 'Payment', 'Activity', 'PublicActivity', 'Commodity', 'Challenge', 'ActivityStats', 'Refund', 'Waitlist']) {
      assert.ok(schemas[name], `components.schemas.${name}`);
    }
    const content = (path: string, method: string, status: string) => doc.paths[path][method].responses[status].content['application/json'].schema;
    assert.deepEqual(content('/api/v1/orders/{orderId}', 'get', '200').properties.order, { $ref: '#/components/schemas/Order' });
    assert.deepEqual(content('/api/v1/orders/{orderId}/pay', 'post', '201').properties.payment, { $ref: '#/components/schemas/Payment' });
    assert.deepEqual(content('/api/v1/admin/activities', 'get', '200').properties.activities.items, { $ref: '#/components/schemas/Activity' });
    assert.deepEqual(schemas.PublicActivity.properties.commodity, { $ref: '#/components/schemas/Commodity' });
    // No component is copied anywhere: a copy would be a second type in a generated client.
    const copies = new Map(Object.entries<Json>(schemas).map(([name, schema]) => [JSON.stringify({ ...schema, description: undefined }), name]));
    const walk = (node: unknown, where: string, self?: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const copy = copies.get(JSON.stringify({ ...node, description: undefined }));
      assert.ok(copy === undefined || copy === self, `${where} is a copy of ${copy}`);
      for (const [key, value] of Object.entries(node)) walk(value, `${where}/${key}`);
    };
    walk(doc.paths, '#/paths');
    for (const [name, schema] of Object.entries(schemas)) walk(schema, `#/components/schemas/${name}`, name);

    const stats = resolve(content('/api/v1/admin/activities/{id}/stats', 'get', '200'));
    assert.deepEqual(Object.keys(stats.properties.db.properties).sort(), ['available', 'locked', 'sold']);
    const order = schemas.Order;
    assert.equal(order.properties.orderId.type, 'string');
    assert.deepEqual([...order.required].sort(), ['activityId', 'amountCents', 'createdAt', 'orderId', 'quantity', 'status', 'userId']);
  });

  it('declares the three ways to authenticate, and uses them', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.userBearer, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: schemes.userBearer.description,
    });
    assert.equal(schemes.adminBearer.scheme, 'bearer');
    assert.deepEqual([schemes.paymentSignature.type, schemes.paymentSignature.in, schemes.paymentSignature.name], ['apiKey', 'header', 'X-Seckill-Signature']);
    const uses = (path: string, method: string) => (doc.paths[path][method].security as Json[]).flatMap((s) => Object.keys(s));
    assert.deepEqual(uses('/api/v1/activities/{id}/purchase', 'post'), ['userBearer']);
    assert.deepEqual(uses('/api/v1/admin/refunds', 'get'), ['adminBearer']);
    assert.deepEqual(uses('/api/v1/payments/callback', 'post'), ['paymentSignature']);
    // The query token is offered on the WebSocket only.
    assert.deepEqual(uses('/api/v1/ws', 'get'), ['userBearer', 'userTokenQuery']);
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      if (path === '/api/v1/ws') continue;
      for (const method of METHODS) {
        const names = ((item[method]?.security ?? []) as Json[]).flatMap((s) => Object.keys(s));
        assert.ok(!names.includes('userTokenQuery'), `${method} ${path} must not take a token in the query`);
      }
    }
  });

  it('describes the WebSocket messages', () => {
    const { schemas } = doc.components;
    // (const is written as a one-value enum by the generator)
    assert.deepEqual(schemas.WsOrderMessage.properties.type, { type: 'string', enum: ['order'] });
    assert.deepEqual(schemas.WsOrderMessage.properties.order, { $ref: '#/components/schemas/Order' });
    assert.deepEqual(schemas.WsWaitlistMessage.properties.type, { type: 'string', enum: ['waitlist'] });
    assert.ok(schemas.WsWaitlistMessage.properties.waitlist.properties.offerExpiresAt);
    assert.deepEqual(schemas.WsQueueMessage.properties.type, { type: 'string', enum: ['queue'] });
    assert.deepEqual(schemas.WsQueueMessage.properties.ticket, { $ref: '#/components/schemas/Ticket' });
    assert.ok(schemas.Ticket.properties.pass);
    assert.deepEqual(schemas.WsQueueProgressMessage.properties.type, { type: 'string', enum: ['queue-progress'] });
    assert.equal(schemas.WsMessage.anyOf.length, 5);
    assert.match(doc.paths['/api/v1/ws'].get.description, /"type": "order"/);
    assert.match(doc.paths['/api/v1/ws'].get.description, /"type": "waitlist"/);
    assert.match(doc.paths['/api/v1/ws'].get.description, /"type": "queue"/);
  });

  it('serves a browsable UI at /docs', async () => {
    const res = await fetch(`${t.url}/docs/`, { redirect: 'follow' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /swagger/i);
  });
});
