/**
 * The randomized fault campaign, short (profile `ci`: sales of 40-150 units, faults of 1-5 s), on
 * both topologies: a few fixed seeds chosen for the faults they combine, plus one random seed per
 * topology, printed so a failure can be replayed (`npm run chaos -- --seed S --runs 1 --topology T
 * --profile ci`). SECKILL_CHAOS_SEED fixes the random one. Each topology starts its own world
 * (own redis-server or 3 + 3 Redis Cluster, own Kafka broker, proxies): nothing shared is faulted.
 * The long campaign (outages of 1-60 s) is `npm run chaos`; see docs/chaos.md.
 */
import { describe, test } from 'node:test';
import { expectCampaignPasses } from '../../src/chaos/campaign.ts';
import { NAMED_PLANS } from '../../src/chaos/named-plans.ts';
import { type Plan, planRun, type Topology } from '../../src/chaos/plan.ts';
import { randomSeed } from '../../src/chaos/random.ts';

/**
 * single 1: the worker SIGKILLed, then Redis killed and restarted empty (found two defects); the
 * named plan service-term-kafka-frozen: SIGTERM of the service while the broker is frozen must exit
 * 0 within the drain limit. cluster 8: a graceful failover, then the broker stopped with SIGTERM;
 * cluster 32: the broker killed while the whole Redis Cluster restarts empty.
 */
const FIXED: Record<Topology, Plan[]> = {
  single: [planRun(1, 'single', 'ci'), NAMED_PLANS['service-term-kafka-frozen']!],
  cluster: [planRun(8, 'cluster', 'ci'), planRun(32, 'cluster', 'ci')],
};
const RANDOM = process.env.SECKILL_CHAOS_SEED === undefined ? randomSeed() : Number(process.env.SECKILL_CHAOS_SEED);

describe('randomized fault campaign (ci profile)', () => {
  for (const topology of ['single', 'cluster'] as const) {
    const fixed = FIXED[topology].map((plan) => plan.name ?? `seed ${plan.seed}`).join(', ');
    test(`${topology}: ${fixed} and random seed ${RANDOM}`, () => {
      console.log(`chaos (${topology}): random seed ${RANDOM}; replay: npm run chaos -- --seed ${RANDOM} --runs 1 --topology ${topology} --profile ci`);
      return expectCampaignPasses(topology, [...FIXED[topology], planRun(RANDOM, topology, 'ci')]);
    });
  }
});
