/**
 * Fault: the Kafka broker is SIGKILLed while the crowd buys, stays down, and is restarted on the
 * same ports and data. Purchases meanwhile answer 503 BUSY (or 202 when the publish's outcome is
 * unknown); /readyz turns 503 while the broker is dead and 200 again after; the consumers recover
 * by themselves, every 202 id reaches MySQL, and the sale sells out with no unit stranded and no
 * false SOLD_OUT (src/chaos/checker.ts checks all of it).
 *
 * Two outage lengths: a short one, and the one that once stranded most winners for good. Down for
 * 20 s (plus the JVM's restart) with buyers arriving fast, the order worker had a batch's offset
 * commit in hand when the broker died; the client parks such a commit until its member joins again,
 * the supervisor replaced that member, and the worker waited on the parked commit forever while
 * readiness said 200 and reconciliation saw nothing to repair.
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe('fault: SIGKILL of the Kafka broker, restarted', () => {
  test('down 6 s, then down 20 s under a fast crowd: every promise kept, readiness follows the broker', () =>
    expectCampaignPasses('single', [NAMED_PLANS['kafka-kill-6s']!, NAMED_PLANS['kafka-kill-20s-fast']!]));
});
