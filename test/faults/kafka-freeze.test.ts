/**
 * Fault: the Kafka broker is frozen (SIGSTOP) for several seconds while the crowd buys, then
 * resumed (SIGCONT). A frozen broker accepts connections but answers nothing, so every request to
 * it times out instead of failing fast: publishes, fetches and heartbeats all hang. Afterwards
 * every promise holds, the consumers are consuming again by themselves, and /readyz was 503 while
 * the broker did not answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { checkRun } from './support/checks.ts';
import { Harness } from './support/harness.ts';

const FROZEN_MS = 8000;

describe('fault: SIGSTOP / SIGCONT of the Kafka broker', () => {
  const harness = new Harness('kafkafreeze');
  before(() => harness.setUp());
  after(async () => {
    // A failed test must not leave a stopped JVM behind that the kill cannot reach.
    await harness.kafka?.signal('SIGCONT').catch(() => {});
    await harness.tearDown();
  });

  test('keeps every promise; readiness follows the broker', async () => {
    let frozenAt = 0;
    let resumedAt = 0;
    const run = await harness.runSale(async ({ mark }) => {
      await harness.kafka.signal('SIGSTOP');
      frozenAt = Date.now();
      mark('broker frozen');
      await sleep(FROZEN_MS);
      await harness.kafka.signal('SIGCONT');
      resumedAt = Date.now();
      mark('broker resumed');
    });
    await checkRun(harness, run, {
      notReadyWithin: { from: frozenAt, to: resumedAt + 1000, why: 'the broker answered nothing' },
    });
  });
});
