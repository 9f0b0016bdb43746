/**
 * Fault: the network between the service and Redis is cut for 3 s through the campaign's proxy,
 * which resets every connection and accepts-then-resets new ones, as a proxy or load balancer in
 * front of an unreachable Redis does. The pub/sub connection once called itself ready on the bare
 * TCP connect, lost its saved subscriptions when the proxy reset it, and never subscribed again:
 * no process heard returned units or cache drops any more, and its QUIT never answered, so SIGTERM
 * ran into the 30 s drain limit and exited 1 (campaign seeds 1 and 3, single/ci). The checker
 * counts the subscribers at the end and times the final SIGTERM.
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';

describe('fault: the network to Redis cut (accept, then reset)', () => {
  test('every process subscribes again and SIGTERM exits 0 in time', () => expectCampaignPasses('single', [NAMED_PLANS['redis-cut-subscriber']!]));
});
