/**
 * Fault: the service process is SIGKILLed while the crowd buys, and a process manager starts a
 * replacement at once (same port, database, Redis, consumer group). Buyers see refused connections
 * and retry with the same requestId. Afterwards every promise holds: no 202 id lost, no answer
 * changed, nothing oversold or stranded; the replacement listens at once (it must not wait out the
 * dead member's consumer-group session first) and purchases succeed again within a bound.
 */
import { after, before, describe, test } from 'node:test';
import { checkRun } from './support/checks.ts';
import { Harness } from './support/harness.ts';

/** The replacement must answer HTTP this soon after it is spawned (it listens before joining the group). */
const LISTEN_BOUND_MS = 15_000;

describe('fault: SIGKILL of the service, restarted at once', () => {
  const harness = new Harness('svckill');
  before(() => harness.setUp());
  after(() => harness.tearDown());

  test('keeps every promise, and purchases resume', async () => {
    let listening: Promise<number | Error> = Promise.resolve(0);
    // The fault ends when the replacement is spawned: recovery is timed from there.
    const run = await harness.runSale(async ({ mark }) => {
      await harness.service.kill('SIGKILL');
      mark('killed');
      harness.service.spawn();
      listening = harness.service.waitListening(60_000).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    });
    const listenMs = await listening;
    if (listenMs instanceof Error) throw listenMs;
    console.log(`the replacement answered HTTP ${listenMs} ms after it was spawned`);
    await checkRun(harness, run, {
      extra: { 'the replacement listens at once': listenMs > LISTEN_BOUND_MS ? [`it answered HTTP only after ${listenMs} ms (bound ${LISTEN_BOUND_MS} ms)`] : [] },
    });
  });
});
