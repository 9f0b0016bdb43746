/**
 * Fault: the Kafka broker is SIGKILLed while the crowd buys, stays down a few seconds, and is
 * restarted on the same ports and data. Purchases meanwhile answer 503 BUSY (or 202 when the
 * publish's outcome is unknown); /readyz turns 503 while the order pipeline cannot consume and 200
 * again after; the consumers recover by themselves, every 202 id reaches MySQL, and the sale sells
 * out with no unit stranded and no false SOLD_OUT.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { checkRun } from './support/checks.ts';
import { Harness } from './support/harness.ts';

const DOWN_MS = 6000;

describe('fault: SIGKILL of the Kafka broker, restarted', () => {
  const harness = new Harness('kafkakill');
  before(() => harness.setUp());
  after(() => harness.tearDown());

  test('keeps every promise; readiness follows the broker', async () => {
    let killedAt = 0;
    let restartingAt = 0;
    const run = await harness.runSale(async ({ mark }) => {
      await harness.kafka.signal('SIGKILL');
      killedAt = Date.now();
      mark('broker killed');
      await sleep(DOWN_MS);
      restartingAt = Date.now();
      mark('broker restarting');
      await harness.kafka.start();
      mark('broker answers');
    });
    await checkRun(harness, run, {
      // The JVM takes seconds to come back: the broker is surely gone between the kill and the restart.
      notReadyWithin: { from: killedAt, to: restartingAt, why: 'the broker was dead' },
    });
  });
});
