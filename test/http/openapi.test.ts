/**
 * The OpenAPI document (issue 12): generated from the route schemas, served at /docs/json, valid
 * by a real OpenAPI 3.1 validator, and complete — every API route has a response schema, the
 * security schemes and the WebSocket's messages are in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
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

  it('gives every operation a described success response and its error shape', () => {
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        const success = Object.entries<Json>(op.responses).filter(([status]) => /^(1|2)\d\d$/.test(status));
        assert.ok(success.length > 0, `${where}: no success response`);
        for (const [status, response] of success) {
          // Without a response schema the generator writes exactly this: 200 "Default Response", no content.
          if (status === '101' || status === '204') assert.notEqual(response.description, 'Default Response', `${where} ${status}: undescribed`);
          else assert.ok(response.content, `${where} ${status}: no response schema`);
        }
        const error = op.responses['5XX'] ?? op.responses['503'];
        assert.ok(error?.content?.['application/json']?.schema, `${where}: no error response`);
      }
    }
    const stats = doc.paths['/api/v1/admin/activities/{id}/stats'].get.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(stats.properties.db.properties).sort(), ['available', 'locked', 'sold']);
    const purchaseErrors = doc.paths['/api/v1/activities/{id}/purchase'].post.responses['409'].content['application/json'].schema;
    assert.deepEqual(purchaseErrors, { $ref: '#/components/schemas/Error' });
    assert.ok(doc.components.schemas.Error.properties.error.properties.code.enum.includes('SOLD_OUT'));
    const order = doc.paths['/api/v1/orders/{orderId}'].get.responses['200'].content['application/json'].schema.properties.order;
    assert.equal(order.properties.orderId.type, 'string');
    assert.deepEqual([...order.required].sort(), ['activityId', 'amountCents', 'createdAt', 'orderId', 'quantity', 'status', 'userId']);
    const live = doc.paths['/api/v1/admin/activities/{id}/live'].get.responses['200'];
    assert.ok(live.content['text/event-stream'], 'the live feed is an event stream');
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
    assert.equal(schemas.WsOrderMessage.properties.order.properties.orderId.type, 'string');
    assert.deepEqual(schemas.WsWaitlistMessage.properties.type, { type: 'string', enum: ['waitlist'] });
    assert.ok(schemas.WsWaitlistMessage.properties.waitlist.properties.offerExpiresAt);
    assert.equal(schemas.WsMessage.anyOf.length, 3);
    assert.match(doc.paths['/api/v1/ws'].get.description, /"type": "order"/);
    assert.match(doc.paths['/api/v1/ws'].get.description, /"type": "waitlist"/);
  });

  it('serves a browsable UI at /docs', async () => {
    const res = await fetch(`${t.url}/docs/`, { redirect: 'follow' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /swagger/i);
  });
});
