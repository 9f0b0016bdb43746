/**
 * A run's plan, drawn from its seed alone: the sale (size, limit, shards), the crowd's shape, and
 * the faults (kind, moment, duration, target). Same seed, same topology and profile: the same plan,
 * so a failing run is replayed with `--seed`. The profile sets the scale: `ci` keeps sales small and
 * faults a few seconds long; `long` spreads outages from 1 s to 60 s.
 */
import { Random } from './random.ts';

export type Topology = 'single' | 'cluster';
export type Profile = 'ci' | 'long';

export const FAULT_KINDS = [
  'kafka-kill',
  'kafka-term',
  'kafka-freeze',
  'redis-kill',
  'redis-wipe',
  'redis-failover',
  'redis-cluster-wipe',
  'mysql-kill',
  'mysql-stall',
  'api-kill',
  'worker-kill',
  'service-kill',
  'service-term',
  'net-delay',
  'net-cut',
  'clock-jump',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A dependency the service reaches through the campaign's TCP proxy. */
export type Link = 'kafka' | 'redis' | 'mysql';

export const FAULT_DESCRIPTIONS: Record<FaultKind, string> = {
  'kafka-kill': 'the Kafka broker SIGKILLed, restarted on its data after the duration',
  'kafka-term': 'the Kafka broker stopped with SIGTERM (orderly), restarted after the duration',
  'kafka-freeze': 'the Kafka broker frozen (SIGSTOP) for the duration, then SIGCONT',
  'redis-kill': 'a Redis master SIGKILLed (single: restarted empty after the duration; cluster: its replica takes over, the node restarts after the duration)',
  'redis-wipe': 'a Redis master emptied (FLUSHALL): every key of the sale gone at once',
  'redis-failover': 'a replica promoted by CLUSTER FAILOVER (graceful, or FORCE without the old master agreeing)',
  'redis-cluster-wipe': 'every Redis Cluster node SIGKILLed and restarted empty after the duration',
  'mysql-kill': "every MySQL connection of the service killed every 50 ms for the duration",
  'mysql-stall': 'MySQL stalled: the proxy stops forwarding (connections stay open) for the duration',
  'api-kill': 'an API process (not the one with the workers) SIGKILLed; the primary forks it again',
  'worker-kill': 'the API process that runs the order worker and the periodic tasks SIGKILLed; forked again',
  'service-kill': 'the whole service SIGKILLed, started again after the duration (a process manager)',
  'service-term': 'the whole service stopped with SIGTERM: it must exit 0 within its 30 s drain limit; started again after the duration',
  'net-delay': 'every byte between the service and one dependency delayed by the latency, for the duration',
  'net-cut': "the network to one dependency cut: the proxy resets its connections and refuses new ones for the duration",
  'clock-jump': "the service's wall clock stepped forward or back (libfaketime) for the duration, then stepped back",
};

/** Faults of one group never overlap (one broker cannot be killed twice); different groups may. */
export function faultGroup(step: FaultStep): string {
  if (step.kind === 'net-delay' || step.kind === 'net-cut') return `link:${step.link ?? 'kafka'}`;
  // A stall is the MySQL link's proxy too: healing one would end the other.
  if (step.kind === 'mysql-stall') return 'link:mysql';
  if (step.kind.startsWith('kafka-')) return 'kafka';
  if (step.kind.startsWith('redis-')) return 'redis';
  if (step.kind.startsWith('mysql-')) return 'mysql';
  if (step.kind === 'clock-jump') return 'clock';
  return 'service';
}

export interface FaultStep {
  kind: FaultKind;
  /** When it starts, in ms after the fault phase began (later if its group is still busy). */
  atMs: number;
  /** How long it lasts before it is healed; 0 for an instant fault (a wipe, a kill the primary repairs). */
  durationMs: number;
  /** net-delay and net-cut: which dependency. */
  link?: Link;
  /** net-delay: added latency per direction. */
  latencyMs?: number;
  /** clock-jump: the step (negative: back). */
  jumpMs?: number;
  /** redis-failover: CLUSTER FAILOVER with or without FORCE. */
  force?: boolean;
  /** Which victim among the candidates (a Redis master, …), as a draw in [0, 1). */
  victim?: number;
}

export interface CrowdShape {
  arrivalsPerSec: number;
  /** HTTP requests in flight at most. */
  concurrency: number;
  /** Shares of buyers who double-click, want more than the limit, replay a requestId after its answer. */
  doubleClick: number;
  greedy: number;
  replay: number;
  /** Arrivals come in waves (3 s on, 2 s off) instead of a steady stream. */
  waves: boolean;
}

export interface Plan {
  seed: number;
  topology: Topology;
  profile: Profile;
  /** A named regression's name; undefined for a drawn plan. */
  name?: string;
  sale: { stock: number; limitPerUser: number; shards: number };
  crowd: CrowdShape;
  /** API processes of the service (node:cluster); process 0 also runs the workers. */
  apiProcesses: number;
  /** The fault phase begins once this share of the stock was answered 202. */
  faultAfterShare: number;
  faults: FaultStep[];
  /** Buyers keep arriving this long after the last fault healed, unless the sale sold out. */
  afterFaultMs: number;
  /** A named regression that must see the crowd cross its fault (replays and users at the limit on both sides). */
  expectStraddle?: boolean;
  /**
   * A named regression whose Redis loss the rebuild must cover: at most this many winners may end
   * FAILED (OUT_OF_STOCK, LIMIT_EXCEEDED, DUPLICATE_REQUEST); only a publish in flight at the very
   * moment of the rebuild can still slip past its wait for the pipeline.
   */
  maxRefusedWinners?: number;
}

interface ProfileLimits {
  stock: [number, number];
  arrivals: [number, number];
  concurrency: [number, number];
  faults: [number, number];
  /** Outage lengths, drawn evenly over the orders of magnitude. */
  durationMs: [number, number];
  /** Later faults start within this long of the first. */
  spreadMs: number;
  afterFaultMs: number;
}

const PROFILES: Record<Profile, ProfileLimits> = {
  ci: { stock: [40, 150], arrivals: [10, 40], concurrency: [20, 80], faults: [1, 2], durationMs: [1000, 5000], spreadMs: 6000, afterFaultMs: 8000 },
  long: { stock: [100, 600], arrivals: [5, 60], concurrency: [20, 150], faults: [1, 4], durationMs: [1000, 60_000], spreadMs: 40_000, afterFaultMs: 20_000 },
};

/** How often each kind is drawn: the broker's faults most, as the outage that strands orders. */
const WEIGHTS: Record<FaultKind, number> = {
  'kafka-kill': 4,
  'kafka-term': 3,
  'kafka-freeze': 3,
  'redis-kill': 2,
  'redis-wipe': 1,
  'redis-failover': 2,
  'redis-cluster-wipe': 1,
  'mysql-kill': 2,
  'mysql-stall': 2,
  'api-kill': 1.5,
  'worker-kill': 2,
  'service-kill': 1.5,
  'service-term': 2,
  'net-delay': 2,
  'net-cut': 2,
  'clock-jump': 1.5,
};

/** The kinds a topology can run (a single Redis has no replica to promote). */
export function kindsFor(topology: Topology, apiProcesses: number): FaultKind[] {
  return FAULT_KINDS.filter((kind) => {
    if (topology === 'single' && (kind === 'redis-failover' || kind === 'redis-cluster-wipe')) return false;
    // With one API process there is no primary to fork a killed child again.
    if (apiProcesses < 2 && (kind === 'api-kill' || kind === 'worker-kill')) return false;
    return true;
  });
}

/** Links the proxy can delay or cut: a Redis Cluster's nodes advertise their own addresses, so only a single Redis is proxied. */
export function linksFor(topology: Topology): Link[] {
  return topology === 'single' ? ['kafka', 'redis', 'mysql'] : ['kafka', 'mysql'];
}

const INSTANT: ReadonlySet<FaultKind> = new Set(['redis-wipe', 'redis-failover', 'api-kill', 'worker-kill']);

function drawFault(random: Random, kind: FaultKind, limits: ProfileLimits, topology: Topology): Omit<FaultStep, 'atMs'> {
  const [low, high] = limits.durationMs;
  const durationMs = INSTANT.has(kind) ? 0 : Math.round(random.logUniform(low, high) / 100) * 100;
  const step: Omit<FaultStep, 'atMs'> = { kind, durationMs, victim: random.next() };
  if (kind === 'net-delay' || kind === 'net-cut') step.link = random.pick(linksFor(topology));
  // Past the client's 3 s publish timeout and the 1 s Redis bound, and below them.
  if (kind === 'net-delay') step.latencyMs = Math.round(random.logUniform(50, 4000));
  if (kind === 'clock-jump') step.jumpMs = (random.chance(0.5) ? 1 : -1) * Math.round(random.logUniform(2000, 600_000) / 1000) * 1000;
  if (kind === 'redis-failover') step.force = random.chance(0.5);
  return step;
}

/** The plan of one run: everything the run does, drawn from `seed`. */
export function planRun(seed: number, topology: Topology, profile: Profile): Plan {
  const root = new Random(seed);
  const limits = PROFILES[profile];
  const saleDraw = root.fork('sale');
  const crowdDraw = root.fork('crowd');
  const faultDraw = root.fork('faults');
  const apiProcesses = saleDraw.chance(0.75) ? 2 : 1;
  const sale = {
    stock: saleDraw.int(...limits.stock),
    limitPerUser: saleDraw.int(1, 3),
    shards: topology === 'cluster' ? saleDraw.pick([1, 2, 3, 3, 4]) : saleDraw.pick([1, 1, 2, 3]),
  };
  const crowd: CrowdShape = {
    arrivalsPerSec: crowdDraw.int(...limits.arrivals),
    concurrency: crowdDraw.int(...limits.concurrency),
    doubleClick: Math.round(crowdDraw.next() * 20) / 100,
    greedy: Math.round(crowdDraw.next() * 20) / 100,
    replay: Math.round(crowdDraw.next() * 20) / 100,
    waves: crowdDraw.chance(0.3),
  };
  const kinds = kindsFor(topology, apiProcesses);
  const weights = Object.fromEntries(kinds.map((kind) => [kind, WEIGHTS[kind]])) as Record<FaultKind, number>;
  const count = faultDraw.int(...limits.faults);
  const faults: FaultStep[] = [];
  for (let i = 0; i < count; i++) {
    const kind = faultDraw.weighted(weights);
    const atMs = i === 0 ? 0 : Math.round(faultDraw.next() * limits.spreadMs / 100) * 100;
    faults.push({ atMs, ...drawFault(faultDraw, kind, limits, topology) });
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  return {
    seed,
    topology,
    profile,
    sale,
    crowd,
    apiProcesses,
    faultAfterShare: Math.round((0.05 + faultDraw.next() * 0.65) * 100) / 100,
    faults,
    afterFaultMs: limits.afterFaultMs,
  };
}

/** One line per fault: what, when, how long. */
export function describeFault(step: FaultStep): string {
  const details = [
    step.link ? `link ${step.link}` : '',
    step.latencyMs !== undefined ? `+${step.latencyMs} ms` : '',
    step.jumpMs !== undefined ? `clock ${step.jumpMs > 0 ? '+' : ''}${step.jumpMs / 1000} s` : '',
    step.force !== undefined ? (step.force ? 'FORCE' : 'graceful') : '',
  ].filter(Boolean);
  const length = step.durationMs > 0 ? ` for ${(step.durationMs / 1000).toFixed(1)} s` : '';
  return `${step.kind}${details.length ? ` (${details.join(', ')})` : ''} at +${(step.atMs / 1000).toFixed(1)} s${length}`;
}

export function describePlan(plan: Plan): string {
  const { sale, crowd } = plan;
  return [
    `${plan.name ? `${plan.name}: ` : ''}seed ${plan.seed}, ${plan.topology}/${plan.profile}`,
    `sale: ${sale.stock} units, limit ${sale.limitPerUser}, ${sale.shards} shard(s); ${plan.apiProcesses} API process(es)`,
    `crowd: ${crowd.arrivalsPerSec}/s, ${crowd.concurrency} in flight, double-click ${crowd.doubleClick}, greedy ${crowd.greedy}, replay ${crowd.replay}${crowd.waves ? ', in waves' : ''}`,
    `faults from ${Math.round(plan.faultAfterShare * 100)} % sold: ${plan.faults.map(describeFault).join('; ')}`,
  ].join('\n  ');
}
