/**
 * Fault: the Kafka broker is frozen (SIGSTOP) for 8 s while the crowd buys, then resumed
 * (SIGCONT). A frozen broker accepts connections but answers nothing, so every request to it times
 * out instead of failing fast: publishes, fetches and heartbeats all hang. Afterwards every promise
 * holds, the consumers are consuming again by themselves, and /readyz was 503 while the broker did
 * not answer (src/chaos/checker.ts).
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe('fault: SIGSTOP / SIGCONT of the Kafka broker', () => {
  test('keeps every promise; readiness follows the broker', () => expectCampaignPasses('single', [NAMED_PLANS['kafka-freeze-8s']!]));
});
