/**
 * Every branch of the stock scripts, through the typed wrappers of src/redis/ (reservations.ts, stock.ts) on
 * the real Redis, each activity under a unique key prefix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeRedis, createRedis, type RedisClient } from '../../src/redis/client.ts';
import { createKeys, type Keys } from '../../src/redis/keys.ts';
import { confirm, getReservation, release, reserve, type ReserveInput, settle } from '../../src/redis/reservations.ts';
import { load, remaining, restock } from '../../src/redis/stock.ts';
import { deleteRedisPrefix, REDIS_URL, uniqueId } from '../support/env.ts';

// Each script's SHA is pinned once, in test/redis/lua.test.ts.
const prefix = `skt_${uniqueId('lua3')}`;
let redis: RedisClient;
let keys: Keys;
let nextActivity = 1;
let nextOrder = 1000;

before(() => {
  redis = createRedis({ nodes: [REDIS_URL], cluster: false });
  keys = createKeys(prefix);
});

after(async () => {
  await deleteRedisPrefix(prefix);
  await closeRedis(redis);
});

const newActivity = () => String(nextActivity++);

function input(activityId: string, userId: string, requestId: string, quantity = 1, limitPerUser = 1): ReserveInput {
  return { activityId, userId, requestId, quantity, limitPerUser, orderId: String(nextOrder++), nowMs: Date.now(), ttlSeconds: 3600 };
}

/** A reservation whose publish was acknowledged (what a finished purchase leaves behind). */
async function reserveConfirmed(req: ReserveInput) {
  const result = await reserve(redis, keys, req);
  if (result.kind === 'reserved') await confirm(redis, keys, req);
  return result;
}

async function segments(activityId: string, count: number): Promise<number[]> {
  const k = keys.activity(activityId);
  const values = await Promise.all(Array.from({ length: count }, (_, i) => redis.get(`${k.segmentPrefix}${i}`)));
  return values.map((v) => Number(v ?? 0));
}

async function nonEmpty(activityId: string): Promise<number[]> {
  return (await redis.smembers(keys.activity(activityId).nonEmpty)).map(Number).sort((a, b) => a - b);
}

async function userUnits(activityId: string, userId: string): Promise<number> {
  return Number((await redis.get(keys.activity(activityId).user(userId))) ?? 0);
}

describe('reserve', () => {
  test('NOT_PREHEATED when the activity has no stock in Redis, and nothing is stored', async () => {
    const a = newActivity();
    const req = input(a, 'u1', 'r1');
    assert.deepEqual(await reserve(redis, keys, req), { kind: 'not-preheated' });
    const k = keys.activity(a);
    assert.equal(await redis.exists(k.request('u1', 'r1'), k.user('u1'), k.reservations, k.lastOrder('u1')), 0);
  });

  test('reserved: decrements, counts the user, stores the reservation, the answer and the last order', async () => {
    const a = newActivity();
    await load(redis, keys, a, 4, 10);
    const req = input(a, 'u1', 'r1');
    const result = await reserve(redis, keys, req);
    assert.deepEqual(result, { kind: 'reserved', orderId: req.orderId });
    const k = keys.activity(a);
    assert.equal(await remaining(redis, keys, a), 9);
    assert.equal((await segments(a, 4)).reduce((x, y) => x + y, 0), 9);
    assert.equal(await userUnits(a, 'u1'), 1);
    assert.ok((await redis.ttl(k.user('u1'))) > 0, 'user count expires');
    const reservation = await getReservation(redis, keys, a, req.orderId);
    assert.deepEqual({ ...reservation, reservedAtMs: 0 }, { orderId: req.orderId, userId: 'u1', quantity: 1, reservedAtMs: 0, requestId: 'r1' });
    assert.equal(await redis.get(k.request('u1', 'r1')), `P:${req.orderId}`, 'pending until the publish is confirmed');
    assert.equal(await redis.hexists(k.pending, req.orderId), 1);
    assert.ok((await redis.ttl(k.request('u1', 'r1'))) > 0, 'answer expires');
    assert.equal(await redis.get(k.lastOrder('u1')), req.orderId);
    assert.equal(await confirm(redis, keys, req), true);
    assert.equal(await redis.get(k.request('u1', 'r1')), `O:${req.orderId}`);
    assert.ok((await redis.ttl(k.request('u1', 'r1'))) > 0, 'confirming keeps the expiry');
    assert.equal(await redis.hexists(k.pending, req.orderId), 0);
    assert.equal(await confirm(redis, keys, req), false, 'confirming twice changes nothing');
  });

  test('replay of a success returns the same order id and reserves nothing more', async () => {
    const a = newActivity();
    await load(redis, keys, a, 2, 10);
    const first = input(a, 'u1', 'r1', 1, 5);
    await reserve(redis, keys, first);
    // Before the publish is confirmed a replay learns only that it is pending.
    assert.deepEqual(await reserve(redis, keys, { ...first, orderId: String(nextOrder++) }), { kind: 'pending', orderId: first.orderId });
    await confirm(redis, keys, first);
    const again = await reserve(redis, keys, { ...first, orderId: String(nextOrder++) });
    assert.deepEqual(again, { kind: 'replay', orderId: first.orderId });
    assert.equal(await remaining(redis, keys, a), 9);
    assert.equal(await userUnits(a, 'u1'), 1);
    assert.equal(await redis.hlen(keys.activity(a).reservations), 1);
  });

  test('LIMIT_EXCEEDED is checked before any unit is taken, and is the stored answer', async () => {
    const a = newActivity();
    await load(redis, keys, a, 2, 10);
    await reserve(redis, keys, input(a, 'u1', 'r1', 2, 3));
    const over = input(a, 'u1', 'r2', 2, 3);
    assert.deepEqual(await reserve(redis, keys, over), { kind: 'refused', code: 'LIMIT_EXCEEDED' });
    assert.equal(await remaining(redis, keys, a), 8, 'a refused buyer leaks no stock');
    assert.equal(await userUnits(a, 'u1'), 2);
    assert.equal(await redis.get(keys.activity(a).request('u1', 'r2')), 'E:LIMIT_EXCEEDED');
    // Replay: same answer, even with a quantity that would now fit.
    assert.deepEqual(await reserve(redis, keys, { ...over, quantity: 1 }), { kind: 'refused', code: 'LIMIT_EXCEEDED' });
    // A new requestId that fits the limit still works.
    const fits = input(a, 'u1', 'r3', 1, 3);
    assert.deepEqual(await reserve(redis, keys, fits), { kind: 'reserved', orderId: fits.orderId });
    assert.equal(await userUnits(a, 'u1'), 3);
  });

  test('SOLD_OUT when short, stored; its replay stays SOLD_OUT even after units come back', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 2);
    await reserveConfirmed(input(a, 'u1', 'r1', 2, 5));
    const late = input(a, 'u2', 'r1');
    assert.deepEqual(await reserve(redis, keys, late), { kind: 'refused', code: 'SOLD_OUT' });
    assert.equal(await redis.get(keys.activity(a).request('u2', 'r1')), 'E:SOLD_OUT');
    assert.equal(await userUnits(a, 'u2'), 0, 'a refused buyer holds nothing');
    await load(redis, keys, a, 1, 5); // units came back (in-flight 2 → target 3)
    assert.equal(await remaining(redis, keys, a), 3);
    assert.deepEqual(await reserve(redis, keys, { ...late, orderId: String(nextOrder++) }), { kind: 'refused', code: 'SOLD_OUT' });
    const fresh = input(a, 'u2', 'r2');
    assert.deepEqual(await reserve(redis, keys, fresh), { kind: 'reserved', orderId: fresh.orderId });
  });

  test('short of stock while a publish is unconfirmed: busy, not SOLD_OUT, and nothing stored', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 1);
    const last = input(a, 'u1', 'r1');
    await reserve(redis, keys, last);
    const late = input(a, 'u2', 'r1');
    // The last unit may come back (a failed publish): SOLD_OUT now would be false.
    assert.deepEqual(await reserve(redis, keys, late), { kind: 'busy' });
    assert.equal(await redis.exists(keys.activity(a).request('u2', 'r1')), 0);
    await confirm(redis, keys, last);
    assert.deepEqual(await reserve(redis, keys, { ...late, orderId: String(nextOrder++) }), { kind: 'refused', code: 'SOLD_OUT' });
  });

  test('quantity > remaining is SOLD_OUT and takes nothing', async () => {
    const a = newActivity();
    await load(redis, keys, a, 2, 2);
    assert.deepEqual(await reserve(redis, keys, input(a, 'u1', 'r1', 3, 5)), { kind: 'refused', code: 'SOLD_OUT' });
    assert.equal(await remaining(redis, keys, a), 2);
    assert.deepEqual(await segments(a, 2), [1, 1]);
  });

  test('quantity > 1 is taken across segments: a unit left in any segment sells', async () => {
    const a = newActivity();
    await load(redis, keys, a, 8, 8);
    assert.deepEqual(await segments(a, 8), [1, 1, 1, 1, 1, 1, 1, 1]);
    const three = input(a, 'u1', 'r1', 3, 3);
    assert.deepEqual(await reserve(redis, keys, three), { kind: 'reserved', orderId: three.orderId });
    assert.equal(await remaining(redis, keys, a), 5);
    assert.equal(await userUnits(a, 'u1'), 3);
    assert.equal((await getReservation(redis, keys, a, three.orderId))?.quantity, 3);
    const left = await segments(a, 8);
    assert.equal(left.reduce((x, y) => x + y, 0), 5);
    assert.deepEqual(await nonEmpty(a), left.flatMap((units, i) => (units > 0 ? [i] : [])), 'nonEmpty tracks the segments');
    // Five single-unit buyers find the five units wherever they are; the next is refused.
    await confirm(redis, keys, three);
    for (let i = 0; i < 5; i++) {
      const r = input(a, `s${i}`, 'r');
      assert.equal((await reserveConfirmed(r)).kind, 'reserved', `buyer ${i}`);
    }
    assert.deepEqual(await reserve(redis, keys, input(a, 'late', 'r')), { kind: 'refused', code: 'SOLD_OUT' });
    assert.equal(await remaining(redis, keys, a), 0);
    assert.deepEqual(await segments(a, 8), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(await nonEmpty(a), []);
  });

  test('one order spanning several uneven segments', async () => {
    const a = newActivity();
    await load(redis, keys, a, 3, 5); // 2,2,1
    const all = input(a, 'u1', 'r1', 5, 5);
    assert.deepEqual(await reserve(redis, keys, all), { kind: 'reserved', orderId: all.orderId });
    assert.deepEqual(await segments(a, 3), [0, 0, 0]);
    assert.equal(await remaining(redis, keys, a), 0);
    assert.deepEqual(await nonEmpty(a), []);
  });
});

describe('release', () => {
  test('returnStock 1: units back on sale, user count lowered, answer kept; idempotent', async () => {
    const a = newActivity();
    await load(redis, keys, a, 2, 10);
    const req = input(a, 'u1', 'r1', 2, 3);
    await reserve(redis, keys, req);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 2, segments: 2 };
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: false }), true);
    assert.equal(await remaining(redis, keys, a), 10);
    assert.equal((await segments(a, 2)).reduce((x, y) => x + y, 0), 10);
    assert.equal(await userUnits(a, 'u1'), 0);
    assert.equal(await getReservation(redis, keys, a, req.orderId), undefined);
    assert.equal(await redis.get(keys.activity(a).request('u1', 'r1')), `O:${req.orderId}`, 'the client still gets its answer');
    // Again: nothing more comes back.
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: false }), false);
    assert.equal(await remaining(redis, keys, a), 10);
  });

  test('returnStock 0: the units are gone (MySQL had none), the user may buy again', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 5);
    const keep = input(a, 'u1', 'r0', 1, 3);
    await reserve(redis, keys, keep);
    const req = input(a, 'u1', 'r1', 1, 3);
    await reserve(redis, keys, req);
    assert.equal(await userUnits(a, 'u1'), 2);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 1, segments: 1 };
    assert.equal(await release(redis, keys, { ...base, returnStock: false, forgetAnswer: false }), true);
    assert.equal(await remaining(redis, keys, a), 3, 'not returned');
    assert.equal(await userUnits(a, 'u1'), 1, 'user count lowered by the quantity (DECRBY)');
  });

  test('a settled reservation cannot be released', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 5);
    const req = input(a, 'u1', 'r1');
    await reserve(redis, keys, req);
    await settle(redis, keys, a, [req.orderId]);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 1, segments: 1 };
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: true }), false);
    assert.equal(await remaining(redis, keys, a), 4);
    assert.equal(await userUnits(a, 'u1'), 1);
    assert.equal(await redis.get(keys.activity(a).request('u1', 'r1')), `O:${req.orderId}`);
  });

  test('forgetAnswer 0 on a pending answer: the order id stands for replays', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 5);
    const req = input(a, 'u1', 'r1');
    await reserve(redis, keys, req);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 1, segments: 1 };
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: false }), true);
    assert.equal(await redis.get(keys.activity(a).request('u1', 'r1')), `O:${req.orderId}`);
    assert.equal(await redis.hlen(keys.activity(a).pending), 0);
  });

  test('forgetAnswer 1: the same requestId reserves afresh', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 5);
    const req = input(a, 'u1', 'r1');
    await reserve(redis, keys, req);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 1, segments: 1 };
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: true }), true);
    assert.equal(await redis.exists(keys.activity(a).request('u1', 'r1')), 0);
    assert.equal(await redis.hlen(keys.activity(a).pending), 0, 'no longer pending: SOLD_OUT can be said again');
    const retry = input(a, 'u1', 'r1');
    assert.deepEqual(await reserve(redis, keys, retry), { kind: 'reserved', orderId: retry.orderId });
    assert.equal(await remaining(redis, keys, a), 4);
  });

  test('release when Redis lost the activity does not resurrect a partial counter', async () => {
    const a = newActivity();
    await load(redis, keys, a, 1, 5);
    const req = input(a, 'u1', 'r1');
    await reserve(redis, keys, req);
    await redis.del(keys.activity(a).remaining);
    const base = { activityId: a, userId: 'u1', requestId: 'r1', orderId: req.orderId, quantity: 1, segments: 1 };
    assert.equal(await release(redis, keys, { ...base, returnStock: true, forgetAnswer: false }), true);
    assert.equal(await remaining(redis, keys, a), undefined);
  });
});

describe('restock', () => {
  test('returns a cancelled order once (marker), lowers the user count, drops an unsettled reservation', async () => {
    const a = newActivity();
    await load(redis, keys, a, 3, 9);
    const first = input(a, 'u1', 'r1', 2, 5);
    const second = input(a, 'u1', 'r2', 1, 5);
    await reserve(redis, keys, first);
    await reserve(redis, keys, second);
    await settle(redis, keys, a, [first.orderId]);
    assert.equal(await userUnits(a, 'u1'), 3);
    assert.equal(await remaining(redis, keys, a), 6);

    const cancel = { activityId: a, userId: 'u1', orderId: first.orderId, quantity: 2, segments: 3 };
    assert.equal(await restock(redis, keys, cancel), true);
    assert.equal(await remaining(redis, keys, a), 8);
    assert.equal((await segments(a, 3)).reduce((x, y) => x + y, 0), 8);
    assert.equal(await userUnits(a, 'u1'), 1);
    assert.equal(await redis.exists(keys.activity(a).returned(first.orderId)), 1);
    assert.ok((await redis.ttl(keys.activity(a).returned(first.orderId))) > 0);
    // Idempotent by marker.
    assert.equal(await restock(redis, keys, cancel), false);
    assert.equal(await remaining(redis, keys, a), 8);
    assert.equal(await userUnits(a, 'u1'), 1);

    // An order cancelled before the worker settled it: its reservation entry goes too.
    assert.ok(await getReservation(redis, keys, a, second.orderId));
    assert.equal(await restock(redis, keys, { ...cancel, orderId: second.orderId, quantity: 1 }), true);
    assert.equal(await getReservation(redis, keys, a, second.orderId), undefined);
    assert.equal(await userUnits(a, 'u1'), 0);
    assert.equal(await redis.exists(keys.activity(a).user('u1')), 0, 'count at zero is deleted');
    assert.equal(await remaining(redis, keys, a), 9);
  });

  test('a Redis that lost the activity is left for preheat (no double count)', async () => {
    const a = newActivity();
    assert.equal(await restock(redis, keys, { activityId: a, userId: 'u1', orderId: '77', quantity: 1, segments: 1 }), true);
    assert.equal(await remaining(redis, keys, a), undefined);
    assert.equal(await redis.exists(`${keys.activity(a).segmentPrefix}0`), 0);
  });
});

describe('load', () => {
  test('before is -1 when missing; segments spread evenly, the first ones take the extra', async () => {
    const a = newActivity();
    assert.deepEqual(await load(redis, keys, a, 4, 10), { before: -1, after: 10, inFlight: 0 });
    assert.deepEqual(await segments(a, 4), [3, 3, 2, 2]);
    assert.deepEqual(await nonEmpty(a), [0, 1, 2, 3]);
    assert.deepEqual(await load(redis, keys, a, 4, 3), { before: 10, after: 3, inFlight: 0 });
    assert.deepEqual(await segments(a, 4), [1, 1, 1, 0]);
    assert.deepEqual(await nonEmpty(a), [0, 1, 2]);
    assert.deepEqual(await load(redis, keys, a, 4, 0), { before: 3, after: 0, inFlight: 0 });
    assert.deepEqual(await segments(a, 4), [0, 0, 0, 0]);
    assert.deepEqual(await nonEmpty(a), []);
    assert.equal(await remaining(redis, keys, a), 0);
  });

  test('target = available - in-flight reservations (never negative); idempotent', async () => {
    const a = newActivity();
    await load(redis, keys, a, 2, 10);
    await reserve(redis, keys, input(a, 'u1', 'r1', 2, 5));
    await reserve(redis, keys, input(a, 'u2', 'r1', 1, 5));
    assert.equal(await remaining(redis, keys, a), 7);
    // MySQL still says 10 available (nothing persisted yet): 3 are in flight.
    assert.deepEqual(await load(redis, keys, a, 2, 10), { before: 7, after: 7, inFlight: 3 });
    assert.deepEqual(await load(redis, keys, a, 2, 10), { before: 7, after: 7, inFlight: 3 });
    // MySQL lost 5 units: Redis is lowered to what MySQL can still honour.
    assert.deepEqual(await load(redis, keys, a, 2, 5), { before: 7, after: 2, inFlight: 3 });
    assert.deepEqual(await segments(a, 2), [1, 1]);
    assert.deepEqual(await load(redis, keys, a, 2, 1), { before: 2, after: 0, inFlight: 3 });
    assert.equal(await remaining(redis, keys, a), 0);
  });
});
