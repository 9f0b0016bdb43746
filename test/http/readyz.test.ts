/**
 * Operations endpoints: a real app on real Redis, MySQL and Kafka is ready, alive and
 * exports metrics; unknown routes get the contract's error body; and readiness really talks to
 * Kafka — an infra whose Kafka client points at a dead port answers 503 naming kafka.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type App, startApp } from '../../src/app/app.ts';
import { opsRoutes } from '../../src/http/routes/ops.ts';
import { buildServer } from '../../src/http/server.ts';
import type { Infra } from '../../src/platform/infra.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { testEnv } from '../support/env.ts';
import { waitFor } from '../support/http.ts';

describe('ops endpoints on a running app', () => {
  const env = testEnv({}, 'rdy');
  let app: App;
  let base: string;

  before(async () => {
    assert.deepEqual([...env.config.roles].sort(), ['api', 'worker']);
    app = await startApp(env.config, { port: 0 });
    assert.ok(app.url, 'the api role listens');
    base = app.url;
  });

  after(async () => {
    await app?.close();
    await env.cleanup();
  });

  test('GET /readyz → 200 with every dependency up, once the order consumer has joined', async () => {
    // The server listens before its consumers join (README, "Faults"): not ready until they have.
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 30_000, 'readyz 200');
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { ok: true, checks: { redis: 'up', mysql: 'up', kafka: 'up' } });
  });

  test('GET /healthz → 200', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  test('GET /metrics → Prometheus text with HTTP and process metrics', async () => {
    // Make sure at least one request has been observed by the histogram.
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE seckill_http_request_duration_seconds histogram$/m);
    assert.match(text, /^seckill_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} [1-9]/m);
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
  });

  test('an unknown route → 404 NOT_FOUND in the contract shape', async () => {
    const res = await fetch(`${base}/no/such/route?x=1`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'NOT_FOUND');
    assert.equal(typeof body.error.message, 'string');
    assert.deepEqual(Object.keys(body), ['error']);
  });

  test('readiness with Kafka unreachable → 503 naming kafka (the shared broker is untouched)', async () => {
    // startApp itself needs a working Kafka (it ensures the topics), so the unreachable Kafka is
    // swapped into a copy of the running app's infra: same Redis and MySQL, Kafka on a dead port.
    const deadKafka = createKafka({ brokers: ['127.0.0.1:1'], topicPrefix: env.config.kafka.topicPrefix, clientId: 'readyz-dead' });
    const infra: Infra = { ...app.infra, kafka: deadKafka };
    const server = buildServer(infra, [opsRoutes(infra)]);
    try {
      const started = Date.now();
      const res = await server.inject({ method: 'GET', url: '/readyz' });
      assert.ok(Date.now() - started < 10_000, 'readiness answers within its timeout');
      assert.equal(res.statusCode, 503);
      const body = res.json() as { error: { code: string; message: string }; checks: Record<string, string> };
      assert.equal(body.error.code, 'NOT_READY');
      assert.match(body.error.message, /kafka/);
      assert.doesNotMatch(body.error.message, /redis|mysql/);
      assert.deepEqual(body.checks, { redis: 'up', mysql: 'up', kafka: 'down' });

      // Liveness does not depend on the dependencies.
      const alive = await server.inject({ method: 'GET', url: '/healthz' });
      assert.equal(alive.statusCode, 200);
    } finally {
      await server.close();
      await deadKafka.close();
    }

    // The real app is still ready.
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
  });
});
