/**
 * Fault: the redis-server is SIGKILLed while the crowd buys and restarted EMPTY 2 s later (no
 * persistence: every reservation, stored answer and per-user count in it is gone). Purchases
 * meanwhile answer 503 BUSY. Afterwards the gate must still hold: a replayed requestId gets its
 * first answer (never a second order id), a user already at limitPerUser is refused, nothing is
 * oversold, and the sale sells out. The plan requires the crowd to have crossed the wipe (replays
 * and users at the limit on both sides): without them the run could not catch a gate that forgot.
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe('fault: Redis killed and restarted empty', () => {
  test('keeps every promise; idempotency and limits survive the wipe', () => expectCampaignPasses('single', [NAMED_PLANS['redis-wipe']!]));
});
