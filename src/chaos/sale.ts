/**
 * One run, start to end: a fresh deployment, a sale shaped by the plan, a crowd buying through the
 * plan's faults (each started at its moment, held, healed; faults of one group one after another),
 * buyers arriving until the sale is truly sold out (MySQL and Redis at zero, nothing in flight) or
 * a bound after the last heal, the order pipeline drained, and a last SIGTERM of the service. All
 * along it records the history the checker reads: every answer (the crowd), /readyz samples,
 * samples of MySQL and Redis, the faults' outcomes, the service's exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createKeys } from '../redis/keys.ts';
import { Crowd } from './crowd.ts';
import { type FaultOutcome, inject } from './faults.ts';
import { faultGroup, type Plan } from './plan.ts';
import type { ServiceExit } from './service.ts';
import { type StockState, Truth } from './truth.ts';
import { MYSQL_SERVER, type RunEnv, type World } from './world.ts';

/** Bound on the pipeline settling after the last fault healed (the checker holds it to a tighter one). */
const DRAIN_BOUND_MS = 150_000;
/** /readyz must say 200 again this soon after the last fault healed (a consumer joins again in seconds). */
export const READY_BOUND_MS = 30_000;
/** Units left after the crowd went home: a second, short wave of buyers. */
const LATE_BUYERS_MS = 15_000;

/** Everything observed in one run, for the checker and the timeline. */
export interface RunHistory {
  plan: Plan;
  run: RunEnv;
  world: World;
  activityId: string;
  crowd: Crowd;
  startedAt: number;
  faultPhaseAt: number;
  /** When the last fault healed. */
  healedAt: number;
  faults: FaultOutcome[];
  readiness: Array<{ at: number; status: number }>;
  states: StockState[];
  /** Whether buyers stopped because the sale was sold out (else: the time bound). */
  soldOutSeen: boolean;
  /** When every reservation was settled and every 202 id was in MySQL (undefined: not within the bound). */
  drainedAt: number | undefined;
  final: StockState;
  /** The final SIGTERM of the service. */
  finalExit: ServiceExit | undefined;
  /** Subscribers of the units-returned channel just before it (one per API process, or some stopped hearing). */
  subscribers: number;
  marks: Array<{ label: string; at: number }>;
}

async function admin(run: RunEnv, method: string, path: string, body?: unknown): Promise<{ status: number; body: { [key: string]: unknown } }> {
  const response = await fetch(run.service.url + path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${run.adminToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as { [key: string]: unknown } };
}

async function createSale(run: RunEnv, plan: Plan): Promise<string> {
  const c = await admin(run, 'POST', '/api/v1/admin/commodities', { name: 'Bottle', priceCents: 990, description: 'chaos campaign bottle' });
  if (c.status !== 201) throw new Error(`create commodity: ${c.status} ${JSON.stringify(c.body)}`);
  const a = await admin(run, 'POST', '/api/v1/admin/activities', {
    name: `Chaos ${plan.seed}`,
    commodityId: (c.body['commodity'] as { id: string }).id,
    priceCents: 990,
    stock: plan.sale.stock,
    // Far from both ends: a clock step (at most 10 min) must not move the service outside the
    // sale's window, where NOT_STARTED or ENDED would be the right answer.
    startAt: new Date(Date.now() - 3_600_000).toISOString(),
    endAt: new Date(Date.now() + 3_600_000).toISOString(),
    limitPerUser: plan.sale.limitPerUser,
    shards: plan.sale.shards,
    // Orders stay PENDING_PAYMENT: no unit comes back by expiry during the run.
    paymentTimeoutSeconds: 3600,
  });
  if (a.status !== 201) throw new Error(`create activity: ${a.status} ${JSON.stringify(a.body)}`);
  return String((a.body['activity'] as { id: string | number }).id);
}

/** Runs `plan` in `world`; the caller ends the run (world.endRun) whatever happens. */
export async function runPlan(world: World, run: RunEnv, plan: Plan, log: (line: string) => void = () => {}): Promise<RunHistory> {
  const activityId = await createSale(run, plan);
  const truth = await Truth.open({ mysqlServer: MYSQL_SERVER, database: run.database, redisUrl: world.redisUrl, redisPrefix: run.redisPrefix, activityId, shards: plan.sale.shards });
  const marks: RunHistory['marks'] = [];
  const readiness: RunHistory['readiness'] = [];
  const states: StockState[] = [];
  let soldOut = false;
  let watching = true;
  // The sale is over only when nothing is left anywhere: MySQL, Redis, and reservations in flight.
  const watcher = (async () => {
    while (watching) {
      try {
        const state = await truth.stock();
        states.push(state);
        soldOut = state.available === 0 && state.redisRemaining === 0 && state.redisReservations === 0 && state.redisPending === 0 && state.redisInTransit === 0;
      } catch {
        // MySQL or Redis trouble is one of the faults: try again.
      }
      await sleep(300);
    }
  })();
  const probing = (async () => {
    while (watching) {
      let status = 0;
      try {
        const response = await fetch(`${run.service.url}/readyz`, { signal: AbortSignal.timeout(3000) });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        // not answering
      }
      readiness.push({ at: Date.now(), status });
      await sleep(250);
    }
  })();

  const crowd = new Crowd({
    url: run.service.url,
    activityId,
    buyers: Math.max(2000, plan.sale.stock * 40),
    arrivalsPerSec: plan.crowd.arrivalsPerSec,
    concurrency: plan.crowd.concurrency,
    limitPerUser: plan.sale.limitPerUser,
    token: run.token,
    mix: plan.crowd,
    waves: plan.crowd.waves,
    seed: plan.seed,
  });
  const startedAt = Date.now();
  let arrivalsDeadline = startedAt + 900_000;
  crowd.start(() => soldOut || Date.now() > arrivalsDeadline);
  try {
    const threshold = Math.max(1, Math.ceil(plan.sale.stock * plan.faultAfterShare));
    const before = Date.now() + 60_000;
    while (crowd.accepted().size < threshold && Date.now() < before) await sleep(50);
    if (crowd.accepted().size < threshold) throw new Error(`only ${crowd.accepted().size} of ${threshold} purchases succeeded before the faults: the sale did not start`);
    const faultPhaseAt = Date.now();
    log(`  faults begin at ${((faultPhaseAt - startedAt) / 1000).toFixed(1)} s (${crowd.accepted().size} answered 202)`);

    // Each fault at its moment; one group's faults one after another.
    const groups = new Map<string, Promise<unknown>>();
    const outcomes = await Promise.all(
      plan.faults.map((step) => {
        const group = faultGroup(step);
        const previous = groups.get(group) ?? Promise.resolve();
        const done = previous.then(async () => {
          const due = faultPhaseAt + step.atMs - Date.now();
          if (due > 0) await sleep(due);
          const outcome = await inject(step, { world, run, activityId, shards: plan.sale.shards });
          log(`  ${outcome.label}: ${outcome.effect || 'touched nothing'} (${((outcome.startedAt - startedAt) / 1000).toFixed(1)}–${((outcome.healedAt - startedAt) / 1000).toFixed(1)} s)`);
          return outcome;
        });
        groups.set(
          group,
          done.catch(() => {}),
        );
        return done;
      }),
    );
    const healedAt = Math.max(...outcomes.map((o) => o.healedAt));
    arrivalsDeadline = healedAt + plan.afterFaultMs;
    await crowd.finished();
    let soldOutSeen = soldOut;
    let drainedAt = await drain(truth, crowd, healedAt + DRAIN_BOUND_MS);
    let final = await truth.stock();
    if (final.available > 0 || final.redisRemaining !== 0) {
      // Units came back after the crowd left (or were never sold): buyers keep coming, briefly.
      marks.push({ label: `late buyers (MySQL available ${final.available}, Redis ${final.redisRemaining})`, at: Date.now() });
      const lateBy = Date.now() + LATE_BUYERS_MS;
      crowd.start(() => soldOut || Date.now() > lateBy);
      await crowd.finished();
      soldOutSeen = soldOut;
      drainedAt = await drain(truth, crowd, Date.now() + DRAIN_BOUND_MS);
      final = await truth.stock();
    }
    // Readiness must come back by itself: give it its bound after the last heal, whatever the drain took.
    const readyBy = healedAt + READY_BOUND_MS;
    while (Date.now() < readyBy && !readiness.some((r) => r.at > healedAt && r.status === 200)) await sleep(250);
    watching = false;
    await Promise.all([watcher, probing]);
    // An API process killed during an outage is forked again with back-off once it can start: give
    // every process the same bound to be back and subscribed.
    const channel = createKeys(run.redisPrefix).stockReturnedChannel;
    let subscribers = await countSubscribers(world, channel);
    const subscribedBy = Date.now() + READY_BOUND_MS;
    while (subscribers < plan.apiProcesses && Date.now() < subscribedBy) {
      await sleep(500);
      subscribers = await countSubscribers(world, channel);
    }
    // The last stop: it must drain within its limit and exit 0 like any other.
    const finalExit = await run.service.kill('SIGTERM');
    return { plan, run, world, activityId, crowd, startedAt, faultPhaseAt, healedAt, faults: outcomes, readiness, states, soldOutSeen, drainedAt, final, finalExit, subscribers, marks };
  } finally {
    await crowd.stop();
    watching = false;
    await Promise.all([watcher, probing]);
    await truth.close();
  }
}

/** Subscribers of `channel` over every node (a cluster node counts only its own clients). */
async function countSubscribers(world: World, channel: string): Promise<number> {
  let total = 0;
  for (const node of world.redis.filter((n) => n.running)) {
    const client = new Redis(`redis://${node.address}`, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 2000, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      const reply = (await client.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      total += Number(reply[1]);
    } catch {
      // a node that does not answer has no subscriber to count
    } finally {
      client.disconnect();
    }
  }
  return total;
}

/**
 * Waits until every reservation is settled and every 202 id is in MySQL, then one reconcile
 * interval more, so a last repair is part of the final state. Returns when it was drained, or
 * undefined if `by` passed first.
 */
async function drain(truth: Truth, crowd: Crowd, by: number): Promise<number | undefined> {
  const accepted = crowd.accepted();
  while (Date.now() < by) {
    const state = await truth.stock().catch(() => undefined);
    if (state && state.redisReservations === 0 && state.redisPending === 0) {
      const orders = await truth.orders().catch(() => undefined);
      if (orders && [...accepted.keys()].every((id) => orders.has(id))) {
        const at = Date.now();
        await sleep(2500);
        return at;
      }
    }
    await sleep(500);
  }
  return undefined;
}
