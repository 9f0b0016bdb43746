/**
 * Fault: for 5 s, every MySQL connection the service holds to its database is killed (KILL
 * CONNECTION, every 50 ms, from a connection of the campaign's own that names no database and so
 * is never a target) while the crowd buys. The order worker must treat it as the transient error it
 * is: retry, never dead-letter a winner, never leave a unit stranded in MySQL or Redis; the API
 * answers 503 BUSY with Retry-After, never 500. The checker also requires that the fault really
 * killed connections.
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe("fault: the service's MySQL connections killed repeatedly", () => {
  test('keeps every promise; no winner dead-lettered, no 500', () => expectCampaignPasses('single', [NAMED_PLANS['mysql-kill-5s']!]));
});
