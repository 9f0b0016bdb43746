/**
 * Rate limits: per user (GCRA in Redis, a local limiter in front) and per client IP,
 * with X-Forwarded-For honoured only when SECKILL_TRUST_PROXY=1. A limited request reserves nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/app/app.ts';
import { createLocalGcra } from '../../src/guard/rate-limiter.ts';
import { call, startTestApp, type TestApp, token } from '../support/http.ts';
import { count, createActivity, validRetryAfter } from './helpers.ts';

describe('local GCRA', () => {
  test('allows the burst, then one per interval, and refuses with the wait', () => {
    let now = 1_000_000;
    const gcra = createLocalGcra(5, 10, { now: () => now });
    for (let i = 0; i < 10; i++) assert.equal(gcra.take('u'), 0, `attempt ${i}`);
    const wait = gcra.take('u');
    assert.ok(wait > 0 && wait <= 200, `wait ${wait}`);
    assert.equal(gcra.take('other'), 0, 'another key is unaffected');
    now += 200;
    assert.equal(gcra.take('u'), 0, 'one more after one interval');
    assert.ok(gcra.take('u') > 0);
  });

  test('refuse() blocks for the shared limit’s wait and refunds the local token', () => {
    let now = 0;
    const gcra = createLocalGcra(1, 1, { now: () => now });
    assert.equal(gcra.take('u'), 0);
    gcra.refuse('u', 5000);
    assert.ok(gcra.take('u') >= 4000);
    now += 5000;
    assert.equal(gcra.take('u'), 0);
  });

  test('memory stays bounded under a flood of distinct keys', () => {
    const gcra = createLocalGcra(1, 1, { maxKeys: 100, now: () => 0 });
    for (let i = 0; i < 1000; i++) gcra.take(`k${i}`);
    assert.ok(gcra.size <= 100, `size ${gcra.size}`);
  });
});

describe('per-user rate limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ SECKILL_RATE_USER_PER_SEC: '5', SECKILL_RATE_USER_BURST: '10' }, 'rl');
  });
  after(async () => {
    await t?.close();
  });

  test("one user's 40 concurrent requests: most 429 with Retry-After, nothing reserved for them; another user unaffected", async () => {
    const activity = await createActivity(t, { stock: 1000, limitPerUser: 100 });
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => t.buy('greedy', activity.id, `r${i}`)));
    // Burst 10, plus 5 per second for as long as the 40 requests took to arrive.
    const ceiling = 10 + Math.ceil(((Date.now() - started) / 1000) * 5);
    const accepted = count(replies, (r) => r.status === 202);
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(accepted >= 10 && accepted <= ceiling, `accepted ${accepted} (ceiling ${ceiling})`);
    assert.ok(limited.length > 20, `limited ${limited.length}`);
    assert.equal(accepted + limited.length, 40, JSON.stringify(replies.map((r) => r.status)));
    for (const r of limited) {
      assert.equal(r.body.error.code, 'RATE_LIMITED');
      assert.ok(validRetryAfter(r.headers.get('retry-after')), `Retry-After ${r.headers.get('retry-after')}`);
    }

    // Another user at the same moment: not slowed down by the first one's flood.
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => t.buy('calm', activity.id, `c${i}`)));
    assert.deepEqual(
      others.map((r) => r.status),
      [202, 202, 202, 202, 202],
    );

    // Limited requests reserved nothing: Redis and the queue only hold the accepted ones.
    const stats = await t.stats(activity.id);
    assert.equal(stats.redis.remaining, 1000 - accepted - 5);
    assert.equal(stats.orders.QUEUED + stats.orders.PENDING_PAYMENT + stats.orders.FAILED, accepted + 5);
  });

  test('the limit is shared by instances (Redis), not only local', async () => {
    const activity = await createActivity(t, { stock: 1000, limitPerUser: 100 });
    const second = await startApp2(t);
    try {
      const urls = [t.url, second];
      const started = Date.now();
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call(urls[i % 2] as string, 'POST', `/api/v1/activities/${activity.id}/purchase`, {
            body: { requestId: `s${i}` },
            auth: `Bearer ${token('shared')}`,
          }),
        ),
      );
      const ceiling = 10 + Math.ceil(((Date.now() - started) / 1000) * 5);
      const accepted = count(replies, (r) => r.status === 202);
      assert.ok(accepted >= 10 && accepted <= Math.min(ceiling, 19), `accepted across two instances ${accepted} (burst 10, not 20)`);
    } finally {
      await closeApp2();
    }
  });
});

let app2: App | undefined;
async function startApp2(t: TestApp): Promise<string> {
  const { startApp } = await import('../../src/app/app.ts');
  app2 = await startApp(t.env.config, { port: 0 });
  return app2.url ?? '';
}
async function closeApp2(): Promise<void> {
  await app2?.close();
  app2 = undefined;
}

describe('per-IP rate limit', () => {
  const buyAs = (t: TestApp, activityId: string, user: string, ip: string) =>
    call(t.url, 'POST', `/api/v1/activities/${activityId}/purchase`, {
      body: { requestId: `${user}-${ip}` },
      auth: `Bearer ${token(user)}`,
      headers: { 'x-forwarded-for': ip },
    });

  test('without SECKILL_TRUST_PROXY, X-Forwarded-For is ignored: all share the socket IP', async () => {
    const t = await startTestApp({ SECKILL_RATE_IP_PER_SEC: '3' }, 'rlip');
    try {
      const activity = await createActivity(t, { stock: 1000 });
      const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => buyAs(t, activity.id, `u${i}`, `10.0.0.${i}`)));
      const limited = replies.filter((r) => r.status === 429);
      assert.ok(count(replies, (r) => r.status === 202) <= 4, JSON.stringify(replies.map((r) => r.status)));
      assert.ok(limited.length >= 8);
      for (const r of limited) assert.ok(validRetryAfter(r.headers.get('retry-after')));
      const stats = await t.stats(activity.id);
      assert.equal(stats.redis.remaining, 1000 - count(replies, (r) => r.status === 202));
    } finally {
      await t.close();
    }
  });

  test('with SECKILL_TRUST_PROXY=1, each forwarded client IP has its own budget', async () => {
    const t = await startTestApp({ SECKILL_RATE_IP_PER_SEC: '3', SECKILL_TRUST_PROXY: '1' }, 'rlipt');
    try {
      const activity = await createActivity(t, { stock: 1000 });
      const distinct = await Promise.all(Array.from({ length: 12 }, (_, i) => buyAs(t, activity.id, `d${i}`, `10.0.1.${i}`)));
      assert.deepEqual(new Set(distinct.map((r) => r.status)), new Set([202]));
      const same = await Promise.all(Array.from({ length: 12 }, (_, i) => buyAs(t, activity.id, `s${i}`, '10.0.2.1')));
      assert.ok(count(same, (r) => r.status === 429) >= 8, JSON.stringify(same.map((r) => r.status)));
    } finally {
      await t.close();
    }
  });
});
