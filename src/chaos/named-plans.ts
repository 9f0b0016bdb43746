/**
 * Fixed plans with names: the fault tests of test/faults/ and the defects the campaign found, each
 * kept as a regression that runs the same way every time (`npm run chaos -- --plan NAME`).
 */
import { type CrowdShape, type FaultStep, type Plan, planRun } from './plan.ts';

const CROWD: CrowdShape = { arrivalsPerSec: 40, concurrency: 100, doubleClick: 0.1, greedy: 0.1, replay: 0.1, waves: false };

function named(name: string, faults: FaultStep[], overrides: Partial<Plan> = {}): Plan {
  return {
    seed: 0,
    name,
    topology: 'single',
    profile: 'ci',
    sale: { stock: 250, limitPerUser: 2, shards: 1 },
    crowd: CROWD,
    apiProcesses: 2,
    faultAfterShare: 0.3,
    faults,
    afterFaultMs: 30_000,
    ...overrides,
  };
}

export const NAMED_PLANS: Record<string, Plan> = {
  'kafka-kill-6s': named('kafka-kill-6s', [{ kind: 'kafka-kill', atMs: 0, durationMs: 6000 }]),
  // Down for 20 s (plus the JVM's restart) with buyers arriving fast, the order worker once had a
  // batch's offset commit in hand when the broker died; the client parks such a commit until its
  // member joins again, the supervisor replaced that member, and the worker waited on it forever.
  'kafka-kill-20s-fast': named('kafka-kill-20s-fast', [{ kind: 'kafka-kill', atMs: 0, durationMs: 20_000 }], {
    sale: { stock: 300, limitPerUser: 2, shards: 1 },
    crowd: { ...CROWD, arrivalsPerSec: 1000, concurrency: 150 },
    faultAfterShare: 0.2,
  }),
  'kafka-freeze-8s': named('kafka-freeze-8s', [{ kind: 'kafka-freeze', atMs: 0, durationMs: 8000 }]),
  // Many orders to persist while the connections die: a larger sale, faster buyers.
  'mysql-kill-5s': named('mysql-kill-5s', [{ kind: 'mysql-kill', atMs: 0, durationMs: 5000 }], {
    sale: { stock: 400, limitPerUser: 2, shards: 1 },
    crowd: { ...CROWD, arrivalsPerSec: 80 },
    faultAfterShare: 0.25,
  }),
  // Half the stock sold before the wipe, so many answers and users at the limit must survive it.
  'redis-wipe': named('redis-wipe', [{ kind: 'redis-kill', atMs: 0, durationMs: 2000 }], {
    sale: { stock: 300, limitPerUser: 2, shards: 1 },
    crowd: { ...CROWD, arrivalsPerSec: 30 },
    faultAfterShare: 0.5,
    expectStraddle: true,
  }),
  'service-kill': named('service-kill', [{ kind: 'service-kill', atMs: 0, durationMs: 0 }]),
  // Shutdown whatever state Kafka is in: SIGTERM of the service 3 s into a 15 s freeze of the
  // broker must drain and exit 0 within the 30 s limit (the checker times every SIGTERM).
  'service-term-kafka-frozen': named(
    'service-term-kafka-frozen',
    [
      { kind: 'kafka-freeze', atMs: 0, durationMs: 15_000 },
      { kind: 'service-term', atMs: 3000, durationMs: 1000 },
    ],
    { sale: { stock: 120, limitPerUser: 2, shards: 2 }, crowd: { ...CROWD, arrivalsPerSec: 25 }, afterFaultMs: 8000 },
  ),
  // Seed 1 (single/ci and cluster/ci): the worker killed, then Redis lost the sale while every
  // reservation was still in Kafka. MySQL showed the full stock, so the rebuild did not wait for
  // the pipeline and offered every unit again: 34 of 44 winners ended FAILED OUT_OF_STOCK.
  // (The plan of that seed, kept as it is: its moments are what catches it.)
  'worker-kill-redis-wipe': { ...planRun(1, 'single', 'ci'), name: 'worker-kill-redis-wipe', maxRefusedWinners: 2 },
  // Seeds 1 and 3 (single/ci): with Redis unreachable behind something that accepts and resets
  // (here the campaign's proxy), the pub/sub connection lost its subscriptions for good and its
  // QUIT never answered, so the final SIGTERM ran into the 30 s limit and exited 1.
  'redis-cut-subscriber': named('redis-cut-subscriber', [{ kind: 'net-cut', link: 'redis', atMs: 0, durationMs: 3000 }], {
    sale: { stock: 120, limitPerUser: 1, shards: 1 },
    crowd: { ...CROWD, arrivalsPerSec: 20 },
    afterFaultMs: 8000,
  }),
};
