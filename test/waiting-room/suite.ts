/**
 * The waiting room's behaviour, run on each Redis topology (waiting-room.test.ts: one Redis;
 * cluster.test.ts: the Redis Cluster, an activity's queue over 3 shards on different masters).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApp } from '../../src/app/app.ts';
import { createPasses } from '../../src/waiting-room/passes.ts';
import { placeFor } from '../../src/waiting-room/waiting-room.ts';
import { queueAdmit, queueHeads, queueJoin } from '../../src/redis/waiting-room.ts';
import { TEST_SECRETS, testEnv } from '../support/env.ts';
import { call, type Json, pool, startTestApp, type TestApp, token, waitFor } from '../support/http.ts';
import { admitted, buyWithPass, createRoomSale, join, roomStats, setPaused, ticketOf } from './helpers.ts';

/** Pearson's chi-square of a users × positions table against the uniform expectation. */
function chiSquare(table: number[][]): number {
  const total = table.flat().reduce((a, b) => a + b, 0);
  const expected = total / table.flat().length;
  return table.flat().reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
}

export function waitingRoomSuite(label: string, overrides: Record<string, string>, shards: number): void {
  describe(`waiting room (${label})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(overrides, `wr${label}`);
    });
    after(async () => {
      await t?.close();
    });

    test('settings: created and changed by the admin, bad values refused with nothing changed; mode off keeps the open rush', async () => {
      const sale = await createRoomSale(t, { shards, waitingRoom: { mode: 'random', admitPerSecond: 7, passSeconds: 30, keepSeconds: 20, prequeueSeconds: 600 } });
      assert.deepEqual({ ...sale.waitingRoom, prequeueOpensAt: undefined }, {
        mode: 'random',
        prequeueSeconds: 600,
        admitPerSecond: 7,
        passSeconds: 30,
        keepSeconds: 20,
        paused: false,
        prequeueOpensAt: undefined,
      });
      assert.equal(Date.parse(sale.waitingRoom.prequeueOpensAt), Date.parse(sale.startAt) - 600_000);
      const bad = await t.admin('PATCH', `/api/v1/admin/activities/${sale.id}`, { waitingRoom: { mode: 'lottery' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'INVALID_REQUEST');
      const badRate = await t.admin('PATCH', `/api/v1/admin/activities/${sale.id}`, { waitingRoom: { passSeconds: 1 } });
      assert.equal(badRate.status, 400);
      const patched = await t.admin('PATCH', `/api/v1/admin/activities/${sale.id}`, { waitingRoom: { mode: 'fifo', admitPerSecond: 0 } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.activity.waitingRoom.mode, 'fifo');
      assert.equal(patched.body.activity.waitingRoom.admitPerSecond, 0);
      assert.equal(patched.body.activity.waitingRoom.passSeconds, 30, 'fields not sent keep their value');
      const detail = await call(t.url, 'GET', `/api/v1/activities/${sale.id}`);
      await waitFor(async () => (await call(t.url, 'GET', `/api/v1/activities/${sale.id}`)).body.activity.waitingRoom?.mode === 'fifo', 2000, 'public detail shows the mode');
      assert.equal(detail.status, 200);

      // Off (the default): no waiting room to join, and a purchase needs no pass.
      const { activity: open } = await t.createSale({ stock: 5, shards });
      assert.equal(open.waitingRoom.mode, 'off');
      const joinOpen = await join(t, 'u-open', open.id);
      assert.equal(joinOpen.status, 409);
      assert.equal(joinOpen.body.error.code, 'NO_WAITING_ROOM');
      assert.equal((await t.buy('u-open', open.id, 'r1')).status, 202);
      assert.equal((await call(t.url, 'GET', `/api/v1/activities/${open.id}`)).body.activity.waitingRoom, undefined);
    });

    test('join is idempotent; before the start a random pre-queue shows no position, FIFO does', async () => {
      const startAt = new Date(Date.now() + 60_000);
      const random = await createRoomSale(t, { shards, startAt, waitingRoom: { mode: 'random', keepSeconds: 3600 } });
      const first = await join(t, 'p1', random.id);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.ticket.status, 'PREQUEUE');
      assert.equal(first.body.ticket.position, undefined);
      assert.ok(first.body.ticket.pollAfterMs > 0);
      const again = await join(t, 'p1', random.id);
      assert.equal(again.body.ticket.joinedAt, first.body.ticket.joinedAt, 'joining twice returns the same ticket');
      assert.equal((await roomStats(t, random.id)).joined, 1);

      const fifo = await createRoomSale(t, { shards: 1, startAt, waitingRoom: { mode: 'fifo', keepSeconds: 3600 } });
      for (const user of ['f1', 'f2', 'f3']) assert.equal((await join(t, user, fifo.id)).status, 201);
      const third = await ticketOf(t, 'f3', fifo.id);
      assert.equal(third.body.ticket.status, 'PREQUEUE');
      assert.equal(third.body.ticket.position, 3);
      assert.equal(third.body.ticket.peopleAhead, 2);
      assert.equal((await ticketOf(t, 'nobody', fifo.id)).status, 404);
      const tooEarly = await createRoomSale(t, { shards, startAt: new Date(Date.now() + 3_600_000), waitingRoom: { mode: 'fifo', prequeueSeconds: 60 } });
      assert.equal((await join(t, 'p1', tooEarly.id)).body.error.code, 'NOT_STARTED');
    });

    test('fairness: the random pre-queue is a uniform shuffle (chi-square), FIFO and later arrivals keep their order', async () => {
      const { redis, keys } = t.app.infra;
      const USERS = 5;
      const RUNS = 400;
      const table = Array.from({ length: USERS }, () => new Array<number>(USERS).fill(0));
      const startAtMs = Date.now() + 60_000;
      const admitAll = async (activityId: string, count: number) => {
        const order: string[] = [];
        for (let i = 0; i < count; i++) {
          const [maxScore] = await queueHeads(redis, keys, activityId, shards, 1);
          assert.ok(maxScore !== undefined);
          for (const a of await queueAdmit(redis, keys, { id: activityId, shards }, { maxScore, limit: 1, nowMs: Date.now(), passMs: 60_000 })) order.push(a.userId);
        }
        return order;
      };
      for (let run = 0; run < RUNS; run++) {
        const activityId = `9${run}${Date.now() % 100000}`;
        // Everyone arrives in the same order before the start: arriving first must buy nothing.
        for (let u = 0; u < USERS; u++) {
          await queueJoin(redis, keys, { activityId, userId: `r${u}`, shards }, placeFor('random', startAtMs, Date.now()), Date.now());
        }
        const order = await admitAll(activityId, USERS);
        order.forEach((userId, position) => {
          const row = table[Number(userId.slice(1))] as number[];
          row[position] = (row[position] ?? 0) + 1;
        });
      }
      // 16 degrees of freedom: P(chi2 > 39.25) = 0.001 under a uniform shuffle.
      const chi2 = chiSquare(table);
      assert.ok(chi2 < 39.25, `chi-square ${chi2.toFixed(1)} over ${JSON.stringify(table)}`);
      assert.ok(chi2 > 0, 'the order varies from run to run');

      // Later arrivals (after the start) go behind the whole pre-queue, in arrival order.
      const activityId = `8${Date.now() % 1_000_000}`;
      for (let u = 0; u < 3; u++) await queueJoin(redis, keys, { activityId, userId: `pre${u}`, shards }, placeFor('random', startAtMs, Date.now()), Date.now());
      for (let u = 0; u < 6; u++) await queueJoin(redis, keys, { activityId, userId: `late${u}`, shards }, placeFor('random', 0, Date.now()), Date.now());
      const order = await admitAll(activityId, 9);
      assert.deepEqual(order.slice(0, 3).sort(), ['pre0', 'pre1', 'pre2']);
      assert.deepEqual(order.slice(3), ['late0', 'late1', 'late2', 'late3', 'late4', 'late5']);
    });

    test('no skipping: every bad pass is a 403 with its own code and reserves nothing; the admitted pass buys', async () => {
      const sale = await createRoomSale(t, { shards, stock: 10, limitPerUser: 2, antiBot: 'none', waitingRoom: { mode: 'fifo', admitPerSecond: 100, keepSeconds: 3600 } });
      const other = await createRoomSale(t, { shards, stock: 10, waitingRoom: { mode: 'fifo', admitPerSecond: 100, keepSeconds: 3600 } });
      for (const user of ['alice', 'bob']) assert.equal((await join(t, user, sale.id)).status, 201);
      assert.equal((await join(t, 'alice', other.id)).status, 201);
      const alice = await admitted(t, 'alice', sale.id);
      const bob = await admitted(t, 'bob', sale.id);
      const aliceOther = await admitted(t, 'alice', other.id);
      assert.ok(Date.parse(alice.passExpiresAt) > Date.now());
      const passes = createPasses(TEST_SECRETS.SECKILL_JWT_SECRET);
      const forged = `${alice.pass.slice(0, -1)}${alice.pass.endsWith('A') ? 'B' : 'A'}`;
      const cases: Array<[string, string | undefined, string]> = [
        ['missing', undefined, 'PASS_REQUIRED'],
        ['garbage', 'not-a-pass', 'PASS_INVALID'],
        ['forged signature', forged, 'PASS_INVALID'],
        ["someone else's", bob.pass, 'PASS_INVALID'],
        ["another sale's", aliceOther.pass, 'PASS_INVALID'],
        ['expired', passes.sign(sale.id, 'alice', Date.now() - 1000), 'PASS_EXPIRED'],
        ['signed with another key', createPasses('another-secret').sign(sale.id, 'alice', Date.now() + 60_000), 'PASS_INVALID'],
      ];
      for (const [what, pass, code] of cases) {
        const r = await buyWithPass(t, 'alice', sale.id, `bad-${what}`, pass);
        assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, what);
      }
      const stats = await t.stats(sale.id);
      assert.equal(stats.redis.remaining, 10, 'nothing reserved by a refused pass');
      assert.equal(stats.orders.QUEUED + stats.orders.PENDING_PAYMENT, 0);
      const ok = await buyWithPass(t, 'alice', sale.id, 'good', alice.pass);
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      // The same request again, even with its pass gone, gets its stored answer.
      const replay = await buyWithPass(t, 'alice', sale.id, 'good');
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      assert.equal(replay.body.orderId, ok.body.orderId);
      await waitFor(async () => (await roomStats(t, sale.id)).bought === 1, 5000, 'the purchase is counted');
    });

    test('pushes on the WebSocket: the admitted ticket with its pass, and the progress of the line', async () => {
      const sale = await createRoomSale(t, { shards, stock: 5, waitingRoom: { mode: 'fifo', admitPerSecond: 50, keepSeconds: 3600, paused: true } });
      const messages: Json[] = [];
      const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/ws?token=${t.token('ws-queue')}`);
      try {
        await new Promise<void>((resolve, reject) => {
          socket.addEventListener('open', () => resolve());
          socket.addEventListener('error', () => reject(new Error('websocket refused')));
        });
        socket.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
        assert.equal((await join(t, 'ws-queue', sale.id)).status, 201);
        await setPaused(t, sale.id, false);
        const pushed = await waitFor(() => messages.find((m) => m.type === 'queue' && m.ticket?.activityId === sale.id), 10_000, () => `the push (got ${JSON.stringify(messages)})`);
        assert.equal(pushed.ticket.status, 'ADMITTED');
        // The pushed pass buys, like the polled one.
        assert.equal((await buyWithPass(t, 'ws-queue', sale.id, 'r', pushed.ticket.pass)).status, 202);
        const progress = await waitFor(() => messages.find((m) => m.type === 'queue-progress' && m.activityId === sale.id && m.admittedTotal >= 1), 5000, 'a progress push');
        assert.equal(typeof progress.waiting, 'number');
      } finally {
        socket.close();
      }
    });

    test('the anti-bot challenge needs the pass too', async () => {
      const sale = await createRoomSale(t, { shards, antiBot: 'challenge', waitingRoom: { mode: 'fifo', admitPerSecond: 100, keepSeconds: 3600 } });
      const none = await t.user('carol', 'POST', `/api/v1/activities/${sale.id}/challenge`);
      assert.equal(none.status, 403);
      assert.equal(none.body.error.code, 'PASS_REQUIRED');
      await join(t, 'carol', sale.id);
      const carol = await admitted(t, 'carol', sale.id);
      const issued = await call(t.url, 'POST', `/api/v1/activities/${sale.id}/challenge`, { auth: `Bearer ${token('carol')}`, headers: { 'x-seckill-pass': carol.pass } });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const stolen = await call(t.url, 'POST', `/api/v1/activities/${sale.id}/challenge`, { auth: `Bearer ${token('dave')}`, headers: { 'x-seckill-pass': carol.pass } });
      assert.equal(stolen.body.error.code, 'PASS_INVALID');
    });

    test('admission keeps within 10 % of its rate over 10 s, with two processes running the admission task', async () => {
      const RATE = 30;
      const sale = await createRoomSale(t, { shards, stock: 100_000, waitingRoom: { mode: 'fifo', admitPerSecond: RATE, keepSeconds: 3600, paused: true } });
      const users = Array.from({ length: 450 }, (_, i) => `rate-${i}`);
      await pool(users.map((user) => async () => assert.equal((await join(t, user, sale.id)).status, 201)), 16);
      // A second process runs the admission task too: the pace must be the sale's, not twice it.
      const second = await startApp(t.env.config, { port: 0 });
      let start: Json;
      let end: Json;
      let startedAt: number;
      try {
        await setPaused(t, sale.id, false);
        await new Promise((r) => setTimeout(r, 1500));
        start = await roomStats(t, sale.id);
        startedAt = Date.now();
        await new Promise((r) => setTimeout(r, 10_000));
        end = await roomStats(t, sale.id);
      } finally {
        await second.close();
      }
      const perSecond = ((end.admitted - start.admitted) * 1000) / (Date.now() - startedAt);
      assert.ok(Math.abs(perSecond - RATE) <= RATE * 0.1, `admitted ${perSecond.toFixed(2)}/s against ${RATE}/s`);
      assert.ok(end.waiting > 0, 'the line was never empty during the measurement');
    });

    test('abandoned places are dropped and do not stall admission', async () => {
      const sale = await createRoomSale(t, { shards, stock: 5, waitingRoom: { mode: 'fifo', admitPerSecond: 50, keepSeconds: 5, paused: true } });
      for (let i = 0; i < 5; i++) assert.equal((await join(t, `silent-${i}`, sale.id)).status, 201);
      assert.equal((await join(t, 'patient', sale.id)).status, 201);
      // The patient one polls (the heartbeat); the silent ones never ask again.
      const deadline = Date.now() + 6500;
      while (Date.now() < deadline) {
        assert.equal((await ticketOf(t, 'patient', sale.id)).status, 200);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const silent = await ticketOf(t, 'silent-0', sale.id);
      assert.equal(silent.body.ticket.status, 'CLOSED');
      assert.equal(silent.body.ticket.reason, 'ABANDONED');
      const patient = await ticketOf(t, 'patient', sale.id);
      assert.equal(patient.body.ticket.position, 1, 'nobody silent is left ahead');
      await setPaused(t, sale.id, false);
      await admitted(t, 'patient', sale.id, 5000);
      const stats = await roomStats(t, sale.id);
      assert.equal(stats.abandoned, 5);
      assert.equal(stats.admitted, 1);
    });

    test('sold out: when nothing can come back every ticket closes SOLD_OUT within a second, and the waitlist is open', async () => {
      const sale = await createRoomSale(t, { shards, stock: 2, waitingRoom: { mode: 'fifo', admitPerSecond: 0, keepSeconds: 3600, paused: true } });
      for (const user of ['w-0', 'w-1']) assert.equal((await join(t, user, sale.id)).status, 201);
      const waiters = Array.from({ length: 20 }, (_, i) => `wait-${i}`);
      await pool(waiters.map((user) => async () => assert.equal((await join(t, user, sale.id)).status, 201)), 10);
      await setPaused(t, sale.id, false);
      const orders: string[] = [];
      for (const user of ['w-0', 'w-1']) {
        const ticket = await admitted(t, user, sale.id);
        const bought = await buyWithPass(t, user, sale.id, 'r', ticket.pass);
        assert.equal(bought.status, 202, JSON.stringify(bought.body));
        orders.push(bought.body.orderId);
      }
      const waiting = await ticketOf(t, 'wait-19', sale.id);
      assert.equal(waiting.body.ticket.status, 'WAITING');
      assert.ok(waiting.body.ticket.chance < 1, `chance while units are unpaid: ${waiting.body.ticket.chance}`);
      await waitFor(async () => (await t.stats(sale.id)).orders.PENDING_PAYMENT === 2, 20_000, 'orders persisted');
      // Paying both makes the sale final: nothing can come back.
      const { signBody } = await import('../../src/lifecycle/payment-callback.ts');
      for (const [i, orderId] of orders.entries()) {
        const user = `w-${i}`;
        const payment = await t.user(user, 'POST', `/api/v1/orders/${orderId}/pay`);
        assert.equal(payment.status, 201, JSON.stringify(payment.body));
        const body = JSON.stringify({ paymentId: payment.body.payment.paymentId, orderId, status: 'SUCCEEDED', amountCents: payment.body.payment.amountCents });
        const cb = await call(t.url, 'POST', '/api/v1/payments/callback', { rawBody: body, headers: { 'x-seckill-signature': signBody(TEST_SECRETS.SECKILL_PAYMENT_SECRET, body) } });
        assert.equal(cb.status, 200, JSON.stringify(cb.body));
      }
      const paidAt = Date.now();
      await waitFor(
        async () => {
          const tickets = await Promise.all(waiters.map((user) => ticketOf(t, user, sale.id)));
          return tickets.every((r) => r.body.ticket.status === 'CLOSED' && r.body.ticket.reason === 'SOLD_OUT');
        },
        5000,
        'every ticket closed',
      );
      const took = Date.now() - paidAt;
      assert.ok(took <= 1000, `every ticket closed ${took} ms after the last unit was paid`);
      // And they stay closed, tick after tick.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const again = await ticketOf(t, 'wait-0', sale.id);
        assert.equal(again.body.ticket.reason, 'SOLD_OUT', `read ${i} after closing`);
      }
      const stats = await roomStats(t, sale.id);
      assert.equal(stats.closed, 'SOLD_OUT');
      assert.ok(stats.closedEarly >= 15, `closed early: ${stats.closedEarly}`);
      assert.equal((await t.user('wait-3', 'POST', `/api/v1/activities/${sale.id}/waitlist`)).status, 201, 'the waitlist takes them');
      const late = await join(t, 'latecomer', sale.id);
      assert.equal(late.body.ticket.status, 'CLOSED');
      assert.equal(late.body.ticket.reason, 'SOLD_OUT');
    });

    test('a returned unit goes to the waitlist first (bought without a pass); the line waits meanwhile', async () => {
      const sale = await createRoomSale(t, { shards, stock: 1, waitingRoom: { mode: 'fifo', admitPerSecond: 0, keepSeconds: 3600, paused: true } });
      assert.equal((await join(t, 'first', sale.id)).status, 201);
      await setPaused(t, sale.id, false);
      const first = await admitted(t, 'first', sale.id);
      const bought = await buyWithPass(t, 'first', sale.id, 'r', first.pass);
      assert.equal(bought.status, 202, JSON.stringify(bought.body));
      await waitFor(async () => (await t.stats(sale.id)).orders.PENDING_PAYMENT === 1, 20_000, 'order persisted');
      // Sold out on open sale: the line stops, and someone joins the waitlist.
      assert.equal((await t.user('patron', 'POST', `/api/v1/activities/${sale.id}/waitlist`)).status, 201);
      assert.equal((await join(t, 'second', sale.id)).status, 201);
      const cancelled = await t.user('first', 'POST', `/api/v1/orders/${bought.body.orderId}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      await waitFor(async () => (await t.user('patron', 'GET', `/api/v1/activities/${sale.id}/waitlist`)).body.waitlist?.status === 'OFFERED', 10_000, 'offered');
      // The returned unit is held for the waitlist: nobody in the line is admitted to chase it.
      await new Promise((r) => setTimeout(r, 1000));
      assert.notEqual((await ticketOf(t, 'second', sale.id)).body.ticket.status, 'ADMITTED');
      const offered = await buyWithPass(t, 'patron', sale.id, 'offer');
      assert.equal(offered.status, 202, `an offered unit needs no pass: ${JSON.stringify(offered.body)}`);
      assert.equal((await buyWithPass(t, 'second', sale.id, 'skip')).body.error.code, 'PASS_REQUIRED', 'the others still need one');
    });

    test('promises hold with the waiting room on: a crowd through the queue never oversells, every unit sold once, limits kept', async () => {
      const STOCK = 15;
      const sale = await createRoomSale(t, { shards, stock: STOCK, limitPerUser: 1, waitingRoom: { mode: 'random', admitPerSecond: 200, keepSeconds: 3600 } });
      const users = Array.from({ length: 50 }, (_, i) => `crowd-${i}`);
      const results = await pool(
        users.map((user) => async () => {
          assert.equal((await join(t, user, sale.id)).status, 201);
          // Admission stops once nothing is on open sale (units in unpaid orders may still come
          // back, so the tickets stay open): whoever is still waiting then stops trying.
          const ticket: Json = await waitFor(async () => {
            const r = await ticketOf(t, user, sale.id);
            if (r.body.ticket?.status === 'ADMITTED') return r.body.ticket;
            const detail = await call(t.url, 'GET', `/api/v1/activities/${sale.id}`);
            return detail.body.activity.remaining === 0 ? { status: 'NOT_ADMITTED' } : undefined;
          }, 30_000, `${user} admitted or the sale sold`);
          if (ticket.status !== 'ADMITTED') return { user, replies: [] };
          // Each buyer clicks twice with two request ids, and once again with the first one.
          const replies = [
            await buyWithPass(t, user, sale.id, 'a', ticket.pass),
            await buyWithPass(t, user, sale.id, 'b', ticket.pass),
            await buyWithPass(t, user, sale.id, 'a', ticket.pass),
          ];
          return { user, replies };
        }),
        25,
      );
      const orderIds = new Set<string>();
      for (const { replies } of results) {
        for (const r of replies) assert.ok([202, 409].includes(r.status), JSON.stringify(r.body));
        const won = replies.filter((r) => r.status === 202).map((r) => r.body.orderId as string);
        assert.ok(new Set(won).size <= 1, 'one user holds at most limitPerUser units');
        for (const id of won) orderIds.add(id);
      }
      assert.equal(orderIds.size, STOCK, 'every unit sold, none twice');
      const persisted: Json = await waitFor(async () => {
        const s = await t.stats(sale.id);
        return s.orders.QUEUED === 0 && s.orders.PENDING_PAYMENT === STOCK ? s : undefined;
      }, 30_000, 'every 202 reached MySQL');
      assert.equal(persisted.db.available + persisted.db.locked + persisted.db.sold, STOCK);
      assert.equal(persisted.db.locked, STOCK);
      assert.equal(persisted.redis.remaining, 0);
    });
  });

  describe(`waiting room across an API restart (${label})`, () => {
    test('every place is kept', async () => {
      const env = testEnv(overrides, `wrrs${label}`);
      try {
        let app = await startApp(env.config, { port: 0 });
        let sale: Json;
        const admin = (url: string, method: string, path: string, body?: unknown) => call(url, method, path, { body, auth: `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}` });
        try {
          const url = app.url ?? '';
          const c = await admin(url, 'POST', '/api/v1/admin/commodities', { name: 'B', priceCents: 1 });
          const a = await admin(url, 'POST', '/api/v1/admin/activities', {
            name: 'S',
            commodityId: c.body.commodity.id,
            priceCents: 1,
            stock: 10,
            shards,
            startAt: new Date(Date.now() - 1000).toISOString(),
            endAt: new Date(Date.now() + 3_600_000).toISOString(),
            waitingRoom: { mode: 'fifo', admitPerSecond: 50, keepSeconds: 3600, paused: true },
          });
          assert.equal(a.status, 201, JSON.stringify(a.body));
          sale = a.body.activity;
          for (let i = 0; i < 6; i++) {
            const r = await call(url, 'POST', `/api/v1/activities/${sale.id}/queue`, { auth: `Bearer ${token(`keep-${i}`)}` });
            assert.equal(r.status, 201, JSON.stringify(r.body));
          }
        } finally {
          await app.close();
        }
        app = await startApp(env.config, { port: 0 });
        try {
          const url = app.url ?? '';
          const tickets = [];
          for (let i = 0; i < 6; i++) {
            const r = await call(url, 'GET', `/api/v1/activities/${sale.id}/queue`, { auth: `Bearer ${token(`keep-${i}`)}` });
            assert.equal(r.status, 200, JSON.stringify(r.body));
            assert.equal(r.body.ticket.status, 'WAITING');
            tickets.push(r.body.ticket);
          }
          if (shards === 1) assert.deepEqual(tickets.map((x) => x.position), [1, 2, 3, 4, 5, 6]);
          const rejoined = await call(url, 'POST', `/api/v1/activities/${sale.id}/queue`, { auth: `Bearer ${token('keep-0')}` });
          assert.equal(rejoined.body.ticket.joinedAt, tickets[0].joinedAt, 'the same ticket after the restart');
          const resumed = await admin(url, 'POST', `/api/v1/admin/activities/${sale.id}/waiting-room/resume`);
          assert.equal(resumed.status, 200);
          await waitFor(async () => {
            const r = await call(url, 'GET', `/api/v1/activities/${sale.id}/queue`, { auth: `Bearer ${token('keep-5')}` });
            return r.body.ticket?.status === 'ADMITTED';
          }, 10_000, 'the last one admitted after the restart');
        } finally {
          await app.close();
        }
      } finally {
        await env.cleanup();
      }
    });
  });
}
