/**
 * A COMMIT whose connection drops has an unknown outcome: MySQL may well have committed it. The
 * order worker settles a batch's reservations in Redis inside the transaction and, when the
 * transaction fails, puts back those of orders MySQL does not hold. It once put back all of them:
 * an order both in MySQL and in flight again made a reload (preheat, reconciliation) count its
 * units twice, Redis offered too few, and buyers heard SOLD_OUT while MySQL still had units (fault
 * campaign seed 6, single/ci: MySQL connections killed during a sale). Here every transaction of the
 * worker commits and then reports a lost connection, for a while; meanwhile no persisted order may
 * be in flight in Redis, and a preheat must leave Redis equal to MySQL.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Db } from '../../src/db/client.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { createOrderWorker, type OrderWorker } from '../../src/purchase/order-worker.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

let t: TestApp;
let worker: OrderWorker | undefined;
before(async () => {
  t = await startTestApp({ SECKILL_ROLES: 'api' }, 'commitunk');
});
after(async () => {
  await worker?.stop();
  await t?.close();
});

/** `db`, except that while `failing()` each transaction commits and then throws as a dropped connection would. */
function committingThenLost(db: Db, failing: () => boolean): Db {
  return new Proxy(db, {
    get(target, property) {
      // Kysely's objects keep private fields: their methods must run on themselves, not the proxy.
      const value: unknown = Reflect.get(target, property, target);
      if (property !== 'transaction') return typeof value === 'function' ? value.bind(target) : value;
      return () => {
        const builder = target.transaction();
        return new Proxy(builder, {
          get(b, p) {
            const member: unknown = Reflect.get(b, p, b);
            if (p !== 'execute') return typeof member === 'function' ? member.bind(b) : member;
            return async (callback: Parameters<typeof builder.execute>[0]) => {
              const result = await b.execute(callback);
              if (failing()) throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
              return result;
            };
          },
        });
      };
    },
  });
}

test('orders a lost COMMIT did write are not put back in flight; a preheat keeps Redis equal to MySQL', async () => {
  const { activity } = await t.createSale({ stock: 10, limitPerUser: 1 });
  let failing = true;
  const { infra, services } = t.app;
  worker = createOrderWorker({ ...infra, ...services, db: committingThenLost(infra.db, () => failing) });
  await worker.start();
  assert.equal((await t.buy('cu1', activity.id, 'r1')).status, 202);

  // The worker's transaction commits, then "fails": the order is in MySQL while it retries.
  let last: unknown;
  const stats = await waitFor(async () => {
    const s = await t.stats(activity.id);
    last = s;
    return s.db.locked === 1 ? s : undefined;
  }, 30_000, () => `the order committed (stats: ${JSON.stringify(last)})`);
  assert.equal(stats.db.available, 9);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const keys = createKeys(t.env.config.redis.prefix).activity(String(activity.id));
  const inFlight = await infra.redis.hkeys(keys.reservations);
  assert.deepEqual(inFlight, [], 'no order MySQL holds is in flight in Redis');
  assert.equal((await t.admin('POST', `/api/v1/admin/activities/${activity.id}/preheat`)).status, 200);
  assert.equal(Number(await infra.redis.get(keys.remaining)), 9, 'Redis offers what MySQL has: 9');

  failing = false;
  for (const user of ['cu2', 'cu3']) assert.equal((await t.buy(user, activity.id, 'r1')).status, 202);
  const settled = await waitFor(async () => {
    const s = await t.stats(activity.id);
    return s.orders.QUEUED === 0 && s.orders.PENDING_PAYMENT === 3 ? s : undefined;
  }, 30_000, 'every order persisted once MySQL answers again');
  assert.deepEqual(settled.db, { available: 7, locked: 3, sold: 0 });
  assert.equal(Number(await infra.redis.get(keys.remaining)), 7);
});
