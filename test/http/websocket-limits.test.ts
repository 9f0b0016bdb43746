/**
 * The WebSocket at the size of a crowd: each cap (per user, per client address as the trust-proxy setting
 * sees it, per process) refuses the next socket with its close code and admits again once one closes; a
 * peer that stops answering pings is dropped, a silent client is closed, a client that stops reading is
 * closed rather than buffered; each closing is counted under its reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Order } from '../../src/domain/order.ts';
import { startTestApp, type TestApp, waitFor } from '../support/http.ts';

interface Opened {
  socket: WebSocket;
  /** `hello` when admitted, else the close code it got instead. */
  outcome: 'hello' | number;
  closed: Promise<{ code: number; reason: string }>;
}

function open(t: TestApp, userId: string, options: { forwardedFor?: string; autoPong?: boolean } = {}): Promise<Opened> {
  const headers: Record<string, string> = { authorization: `Bearer ${t.token(userId)}` };
  if (options.forwardedFor) headers['x-forwarded-for'] = options.forwardedFor;
  const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/ws`, { headers, autoPong: options.autoPong ?? true });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return new Promise((resolve, reject) => {
    socket.once('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; userId: string };
      assert.deepEqual(message, { type: 'hello', userId });
      resolve({ socket, outcome: 'hello', closed });
    });
    socket.once('error', reject);
    void closed.then(({ code }) => resolve({ socket, outcome: code, closed }));
  });
}

async function counter(t: TestApp, name: 'wsRefused' | 'wsClosed', reason: string): Promise<number> {
  const { values } = await t.app.infra.metrics[name].get();
  return values.find((v) => v.labels.reason === reason)?.value ?? Number.NaN;
}

const openSockets = async (t: TestApp) => (await t.app.infra.metrics.wsOpen.get()).values[0]?.value ?? 0;

async function closeAll(t: TestApp, sockets: Opened[]): Promise<void> {
  for (const { socket } of sockets) socket.close();
  await waitFor(async () => (await openSockets(t)) === 0, 5000, 'every socket closed on the server');
}

describe('WebSocket caps and slow consumers', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(
      {
        SECKILL_WS_MAX_PER_USER: '2',
        SECKILL_WS_MAX_PER_IP: '3',
        SECKILL_WS_MAX_PER_INSTANCE: '5',
        SECKILL_TRUST_PROXY: '1',
        // A socket that does not read misses pings too: slow heartbeats leave the send bound to act first.
        SECKILL_WS_MAX_BUFFERED_BYTES: '65536',
      },
      'wscap',
    );
  });
  after(async () => {
    await t?.close();
  });

  test('every refusal and closing reason is exported at 0 before it happens', async () => {
    for (const reason of ['user', 'ip', 'instance']) assert.equal(await counter(t, 'wsRefused', reason), 0, reason);
    for (const reason of ['client', 'heartbeat', 'idle', 'slow_consumer', 'shutdown']) assert.equal(await counter(t, 'wsClosed', reason), 0, reason);
  });

  test('per user: the third socket of one user gets 4001, another user is admitted, and a freed place is taken again', async () => {
    const first = await open(t, 'cap-u', { forwardedFor: '10.1.0.1' });
    const second = await open(t, 'cap-u', { forwardedFor: '10.1.0.2' });
    assert.deepEqual([first.outcome, second.outcome], ['hello', 'hello']);
    const third = await open(t, 'cap-u', { forwardedFor: '10.1.0.3' });
    assert.equal(third.outcome, 4001);
    assert.equal((await third.closed).reason, 'USER_SOCKET_LIMIT');
    const other = await open(t, 'cap-other', { forwardedFor: '10.1.0.3' });
    assert.equal(other.outcome, 'hello');
    assert.equal(await counter(t, 'wsRefused', 'user'), 1);

    first.socket.close();
    await first.closed;
    await waitFor(async () => (await openSockets(t)) === 2, 5000, 'the closed socket forgotten');
    const again = await open(t, 'cap-u', { forwardedFor: '10.1.0.4' });
    assert.equal(again.outcome, 'hello');
    await closeAll(t, [second, other, again]);
    assert.equal(await counter(t, 'wsClosed', 'client'), 4);
  });

  test('per address, as X-Forwarded-For gives it with the proxy trusted: the fourth socket from one address gets 4002', async () => {
    const fromOne = [];
    for (const user of ['ip-a', 'ip-b', 'ip-c']) fromOne.push(await open(t, user, { forwardedFor: '10.2.0.1' }));
    assert.deepEqual(
      fromOne.map((o) => o.outcome),
      ['hello', 'hello', 'hello'],
    );
    const fourth = await open(t, 'ip-d', { forwardedFor: '10.2.0.1' });
    assert.equal(fourth.outcome, 4002);
    assert.equal((await fourth.closed).reason, 'IP_SOCKET_LIMIT');
    // The same user from another address is not that address's business.
    const elsewhere = await open(t, 'ip-d', { forwardedFor: '10.2.0.2' });
    assert.equal(elsewhere.outcome, 'hello');
    assert.equal(await counter(t, 'wsRefused', 'ip'), 1);
    await closeAll(t, [...fromOne, elsewhere]);
  });

  test('per process: the sixth socket gets 4003 whoever opens it', async () => {
    const admitted = [];
    for (let i = 0; i < 5; i++) admitted.push(await open(t, `inst-${i}`, { forwardedFor: `10.3.0.${i}` }));
    assert.ok(admitted.every((o) => o.outcome === 'hello'));
    assert.equal(await openSockets(t), 5);
    const sixth = await open(t, 'inst-new', { forwardedFor: '10.3.1.1' });
    assert.equal(sixth.outcome, 4003);
    assert.equal((await sixth.closed).reason, 'SERVER_FULL');
    assert.equal(await counter(t, 'wsRefused', 'instance'), 1);
    await closeAll(t, admitted);
  });

  test('a client that stops reading is closed with 4005 once its unsent bytes pass the bound; a reader gets everything', async () => {
    // Two tabs of one user: closing the slow one must not cost the other a message.
    const slow = await open(t, 'reader', { forwardedFor: '10.4.0.1' });
    const fast = await open(t, 'reader', { forwardedFor: '10.4.0.2' });
    let fastGot = 0;
    fast.socket.on('message', () => fastGot++);
    slow.socket.pause();
    // Large pushes through the real path (pub/sub → every instance → the owner's sockets) fill the
    // kernel's buffers first (tens of MB on loopback), then the server's, until the bound closes it.
    // Each goes to both; waiting for the reader's copy paces them (Redis drops a subscriber that lags 32 MB).
    const big = 'x'.repeat(200_000);
    let pushes = 0;
    while ((await counter(t, 'wsClosed', 'slow_consumer')) === 0) {
      assert.ok(pushes < 1000, 'closed before 200 MB were pushed');
      await t.app.services.orders.announce({ orderId: String(pushes), userId: 'reader', status: 'PAID', reason: big } as unknown as Order);
      pushes++;
      await waitFor(() => fastGot === pushes, 5000, () => `push ${pushes} to the reader`);
    }
    assert.equal(fast.socket.readyState, WebSocket.OPEN, 'the reader stays');
    slow.socket.resume();
    const { code, reason } = await slow.closed;
    assert.deepEqual([code, reason], [4005, 'SLOW_CONSUMER']);
    await closeAll(t, [fast]);
  });
});

describe('WebSocket heartbeats and idle timeout', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(
      { SECKILL_WS_HEARTBEAT_MS: '150', SECKILL_WS_IDLE_TIMEOUT_MS: '1500' },
      'wsbeat',
    );
  });
  after(async () => {
    await t?.close();
  });

  test('a peer that stops answering pings is dropped; one that answers is kept', async () => {
    const dead = await open(t, 'beat-dead', { autoPong: false });
    const alive = await open(t, 'beat-alive');
    // Keeps the live one clear of the idle timeout: this test is about pongs.
    const chatter = setInterval(() => alive.socket.send('{}'), 200);
    try {
      const { code } = await dead.closed;
      assert.equal(code, 1006, 'dropped without a close handshake');
      await waitFor(async () => (await counter(t, 'wsClosed', 'heartbeat')) === 1, 2000, 'counted as heartbeat');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(alive.socket.readyState, WebSocket.OPEN, 'a peer that answers pings stays');
    } finally {
      clearInterval(chatter);
      await closeAll(t, [alive]);
    }
  });

  test('a client that sends nothing is closed with 4004; one that sends something now and then stays', async () => {
    const silent = await open(t, 'idle-silent');
    const talking = await open(t, 'idle-talking');
    const chatter = setInterval(() => talking.socket.send('{"type":"ping"}'), 300);
    const openedAt = Date.now();
    try {
      const { code, reason } = await silent.closed;
      const after = Date.now() - openedAt;
      assert.deepEqual([code, reason], [4004, 'IDLE_TIMEOUT']);
      assert.ok(after >= 1400 && after < 3000, `closed after ${after} ms (timeout 1500, heartbeat 150)`);
      assert.equal(talking.socket.readyState, WebSocket.OPEN);
      await waitFor(async () => (await counter(t, 'wsClosed', 'idle')) === 1, 2000, 'counted as idle');
    } finally {
      clearInterval(chatter);
      await closeAll(t, [talking]);
    }
  });

  test('shutting down closes every socket with 1001', async () => {
    const last = await open(t, 'shutdown-user');
    await t.app.close();
    assert.equal((await last.closed).code, 1001);
    assert.equal(await counter(t, 'wsClosed', 'shutdown'), 1);
  });
});
