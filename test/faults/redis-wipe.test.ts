/**
 * Fault: the redis-server is SIGKILLed while the crowd buys and restarted EMPTY a moment later
 * (no persistence: every reservation, stored answer and per-user count in it is gone). Purchases
 * meanwhile answer 503 BUSY. Afterwards the gate must still hold: a replayed requestId gets its
 * first answer (never a second order id), a user already at limitPerUser is refused, nothing is
 * oversold (in-flight reservations are not offered again), and the sale sells out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { checkRun, straddling } from './support/checks.ts';
import { DEFAULT_SHAPE, Harness } from './support/harness.ts';

const DOWN_MS = 2000;

describe('fault: Redis killed and restarted empty', () => {
  const harness = new Harness('rediswipe');
  before(() => harness.setUp());
  after(() => harness.tearDown());

  test('keeps every promise; idempotency and limits survive the wipe', async () => {
    // Half the stock sold before the wipe, so many answers and users at the limit must survive it.
    const shape = { ...DEFAULT_SHAPE, stock: 300, arrivalsPerSec: 30, faultAfterShare: 0.5 };
    const run = await harness.runSale(async ({ mark }) => {
      await harness.redis.signal('SIGKILL');
      mark('redis killed');
      await sleep(DOWN_MS);
      await harness.redis.start();
      mark('redis back, empty');
    }, shape);
    const across = straddling(run);
    await checkRun(harness, run, {
      extra: {
        // Without these the run could not have caught a gate that forgot answers or counts.
        'the crowd tested the wipe': [
          ...(across.replays === 0 ? ['no requestId answered 202 before the wipe was sent again after it'] : []),
          ...(across.atLimitTriedAgain === 0 ? ['no user at the limit before the wipe tried again after it'] : []),
        ],
      },
    });
  });
});
