/**
 * One truth for the console: the live feed served by one instance counts the purchases answered by
 * every instance (here two apps on the same Redis, MySQL and Kafka, each with its own registry, as
 * two machines behind a load balancer), and the stats read the shared truth.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type App, startApp } from '../../src/app/app.ts';
import { call, liveTickWhere, promValue, startTestApp, type TestApp, token } from '../support/http.ts';

let first: TestApp | undefined;
let second: App | undefined;
after(async () => {
  await second?.close();
  await first?.close();
});

const RESERVED = 'seckill_purchase_total{outcome="RESERVED"}';
const SOLD_OUT = 'seckill_purchase_total{outcome="SOLD_OUT"}';

test('the live feed and the stats of one instance count the purchases every instance answered', async () => {
  first = await startTestApp({}, 'ct');
  second = await startApp({ ...first.env.config, roles: ['api'] }, { port: 0 });
  const { activity } = await first.createSale({ stock: 5 });
  const buyOn = (url: string, user: string) =>
    call(url, 'POST', `/api/v1/activities/${activity.id}/purchase`, { auth: `Bearer ${token(user)}`, body: { requestId: 'r1' } });

  const answers = [
    ...(await Promise.all(['a1', 'a2'].map((u) => buyOn(first!.url, u)))),
    ...(await Promise.all(['b1', 'b2', 'b3', 'b4'].map((u) => buyOn(second!.url ?? '', u)))),
  ];
  assert.deepEqual(answers.map((a) => a.status).sort(), [202, 202, 202, 202, 202, 409]);

  // Each instance alone saw only its own answers...
  const own = await (await fetch(`${first.url}/metrics`)).text();
  assert.equal(promValue(own, RESERVED), 2);
  // ...the console, served by either one, sees all of them.
  for (const url of [first.url, second.url ?? '']) {
    const tick = await liveTickWhere(url, activity.id, (t) => t.processes === 2 && promValue(t.metrics, RESERVED) === 5);
    assert.equal(promValue(tick.metrics, SOLD_OUT), 1);
    assert.equal(tick.stats.stock, 5);
    assert.equal(tick.stats.redis.remaining, 0);
  }
});
