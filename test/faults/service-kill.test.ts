/**
 * Fault: the service process is SIGKILLed while the crowd buys, and a process manager starts a
 * replacement at once (same port, database, Redis, consumer group). Buyers see refused connections
 * and retry with the same requestId. Afterwards every promise holds: no 202 id lost, no answer
 * changed, nothing oversold or stranded; the replacement answers HTTP within 15 s of its spawn (it
 * must not wait out the dead member's consumer-group session first) and purchases succeed again
 * within a bound (src/chaos/checker.ts).
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe('fault: SIGKILL of the service, restarted at once', () => {
  test('keeps every promise, and purchases resume', () => expectCampaignPasses('single', [NAMED_PLANS['service-kill']!]));
});
