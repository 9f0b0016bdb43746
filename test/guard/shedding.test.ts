/**
 * Load shedding: at most SECKILL_MAX_INFLIGHT purchases in flight per instance, and none
 * admitted while the event loop lags; the rest get 503 BUSY with Retry-After and reserve nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLoadShedder } from '../../src/guard/load-shedder.ts';
import { startTestApp, type TestApp } from '../support/http.ts';
import { count, createActivity, validRetryAfter } from './helpers.ts';

describe('load shedder', () => {
  test('refuses beyond maxInflight without running the work, and counts the gauge', async () => {
    let gauge = 0;
    const shedder = createLoadShedder({ maxInflight: 2, maxEventLoopDelayMs: 0, gauge: { inc: () => gauge++, dec: () => gauge-- } });
    try {
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let ran = 0;
      const work = () => shedder.run(async () => {
        ran++;
        await gate;
      });
      const first = [work(), work()];
      assert.equal(shedder.inflight, 2);
      assert.equal(gauge, 2);
      await assert.rejects(work(), (e: { code?: string; retryAfter?: number }) => e.code === 'BUSY' && e.retryAfter === 1);
      assert.throws(() => shedder.precheck(), { code: 'BUSY' });
      assert.equal(ran, 2);
      release();
      await Promise.all(first);
      assert.equal(shedder.inflight, 0);
      assert.equal(gauge, 0);
      shedder.precheck();
    } finally {
      shedder.stop();
    }
  });

  test('sheds while the event loop lags', async () => {
    const shedder = createLoadShedder({ maxInflight: 100, maxEventLoopDelayMs: 50, sampleIntervalMs: 20 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      shedder.precheck();
      const until = performance.now() + 200;
      while (performance.now() < until) {
        // block the event loop
      }
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 0));
      assert.ok(shedder.eventLoopDelayMs > 50, `measured ${shedder.eventLoopDelayMs}`);
      assert.throws(() => shedder.precheck(), { code: 'BUSY' });
      await new Promise((r) => setTimeout(r, 100));
      shedder.precheck();
    } finally {
      shedder.stop();
    }
  });
});

describe('shedding on a running instance', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_MAX_INFLIGHT: '3' }, 'shed');
  });
  after(async () => {
    await t?.close();
  });

  test('a burst gets some 503 BUSY with Retry-After; none of them reserved anything', async () => {
    const activity = await createActivity(t, { stock: 1000 });
    const replies = await Promise.all(Array.from({ length: 150 }, (_, i) => t.buy(`u${i}`, activity.id, 'r1')));
    const busy = replies.filter((r) => r.status === 503);
    const accepted = count(replies, (r) => r.status === 202);
    assert.ok(busy.length > 0, 'some requests were shed');
    assert.ok(accepted > 0, 'some requests were served');
    assert.equal(busy.length + accepted, 150, JSON.stringify(replies.map((r) => r.status)));
    for (const r of busy) {
      assert.equal(r.body.error.code, 'BUSY');
      assert.ok(validRetryAfter(r.headers.get('retry-after')));
    }
    const stats = await t.stats(activity.id);
    assert.equal(stats.redis.remaining, 1000 - accepted);
    assert.equal(stats.orders.QUEUED + stats.orders.PENDING_PAYMENT + stats.orders.FAILED, accepted);
    // The gauge is back to zero once the burst is answered.
    assert.equal(t.app.services.guard.shedder.inflight, 0);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^seckill_purchase_inflight 0$/m);
  });
});
