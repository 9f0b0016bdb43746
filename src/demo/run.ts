/**
 * One complete flash sale over real HTTP against a service the demo started itself:
 * setup → buying (the crowd) → draining (Kafka → MySQL) → paying (+ timeouts, cancels) and
 * re-buying released units → promise checks against MySQL and Redis → report.
 */
import { join } from 'node:path';
import { clusterEnv } from '../cli/services/cluster.ts';
import { dropServiceData } from './cleanup.ts';
import { type Buyer, createCrowd, Limiter, makeBuyers, newRequestId, Recorder, solveChallenge } from './crowd.ts';
import { type Answer, createHttpClient, errorCode, type HttpClient } from './http.ts';
import { describeMachine } from './machine.ts';
import { createProgress, type ProgressSample } from './progress.ts';
import { createQueueCrowd } from './queue-crowd.ts';
import { checkPromises } from './promises.ts';
import { type DemoReport, type PaymentSummary, type PhaseMarker, summarize } from './report-model.ts';
import { writeReport } from './report.ts';
import { demoEnv, startService } from './service.ts';
import { createWaitlistCrowd } from './waitlist-crowd.ts';

export interface DemoOptions {
  units: number;
  buyers: number;
  concurrency: number;
  segments: number;
  /** Redis shards of the activity's stock; undefined: the service's default for its deployment. */
  shards?: number;
  /** Where the service's Redis and Kafka are: the default services, or the cluster topology. */
  topology: 'single' | 'cluster';
  limit: number;
  paymentTimeoutSeconds: number;
  antiBot: boolean;
  difficulty: number;
  /** The sale runs through a random-mode waiting room (the default); false: the open rush of before. */
  waitingRoom: boolean;
  keepRunning: boolean;
  keepData: boolean;
  reportsDir: string;
}

interface Stats {
  stock: number;
  redis: { remaining: number };
  db: { available: number; locked: number; sold: number };
  orders: Record<string, number>;
}

interface OrderView {
  orderId: string;
  status: string;
  reason?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runDemo(options: DemoOptions): Promise<{ report: DemoReport; dir: string; ok: boolean }> {
  const startedAt = new Date();
  const machine = describeMachine();
  const dir = join(options.reportsDir, startedAt.toISOString().replace(/[:.]/g, '-'));
  const progress = createProgress();
  const notes: string[] = [];
  const service = await demoEnv({ paymentTimeoutSeconds: options.paymentTimeoutSeconds, ...(options.topology === 'cluster' ? { extra: clusterEnv() } : {}) });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  progress.log(`starting the service on ${service.url} (database ${service.mysqlUrl.replace(/^.*\//, '')}, log ${join(dir, 'service.log')})`);
  const running = await startService(service, join(dir, 'service.log'));
  const http = createHttpClient(service.url, options.concurrency);
  const admin = (method: string, path: string, body?: unknown) => http.call(method, path, { token: service.adminToken, body });
  let sampler: NodeJS.Timeout | undefined;
  try {
    // ---- setup
    const commodity = await expectOk(await admin('POST', '/api/v1/admin/commodities', { name: 'Demo bottle', priceCents: 9900, description: 'A flash-sale demo item' }), 201);
    const commodityId = (commodity as { commodity: { id: string } }).commodity.id;
    const serverNow = ((await expectOk(await http.call('GET', '/api/v1/time'), 200)) as { epochMs: number }).epochMs;
    // Through the waiting room, the crowd joins the pre-queue first: time for it (≈ 2,000 joins a second here).
    const startAtMs = serverNow + (options.waitingRoom ? Math.max(3000, Math.ceil(options.buyers / 2)) : 3000);
    const activityBody: Record<string, unknown> = {
      name: `Demo sale ${startedAt.toISOString()}`,
      commodityId,
      priceCents: 990,
      stock: options.units,
      startAt: new Date(startAtMs).toISOString(),
      endAt: new Date(startAtMs + 2 * 3600_000).toISOString(),
      limitPerUser: options.limit,
      paymentTimeoutSeconds: options.paymentTimeoutSeconds,
      segments: options.segments,
      ...(options.shards === undefined ? {} : { shards: options.shards }),
    };
    if (options.antiBot) {
      activityBody['antiBot'] = 'challenge';
      activityBody['challengeDifficulty'] = options.difficulty;
    }
    // Automatic admission; a short keep time, so buyers who stopped waiting leave the line soon.
    if (options.waitingRoom) activityBody['waitingRoom'] = { mode: 'random', keepSeconds: 15, passSeconds: 30 };
    const created = await expectOk(await admin('POST', '/api/v1/admin/activities', activityBody), 201);
    const activityId = (created as { activity: { id: string } }).activity.id;
    const activityShards = (created as { activity: { shards: number } }).activity.shards;
    progress.log(`activity ${activityId}: ${options.units} units, ${options.buyers} buyers, limit ${options.limit}, starts in ${Math.round((startAtMs - serverNow) / 1000)} s`);

    const runId = Date.now().toString(36);
    const buyers = makeBuyers(options.buyers, service.jwtSecret, runId);
    const byUser = new Map(buyers.map((b) => [b.userId, b]));
    const limiter = new Limiter(options.concurrency);
    const recorder = new Recorder();
    const challenge = options.antiBot
      ? async (buyer: Buyer) => {
          const answer = await limiter.run(() =>
            http.call('POST', `/api/v1/activities/${activityId}/challenge`, { token: buyer.token, ...(buyer.pass ? { headers: { 'x-seckill-pass': buyer.pass } } : {}) }),
          );
          const c = (answer.body as { challenge?: { challengeId: string; prefix: string; difficulty: number } } | undefined)?.challenge;
          if (answer.status !== 201 || !c) return undefined;
          return { challengeId: c.challengeId, nonce: solveChallenge(c.prefix, c.difficulty) };
        }
      : undefined;
    const crowd = createCrowd({ http, limiter, recorder, activityId, ...(challenge ? { challenge } : {}) });
    const queue = options.waitingRoom ? createQueueCrowd({ http, limiter, activityId }) : undefined;
    // About a tenth of the units come back (timeouts, cancellations, failed payments): as many
    // waitlisted buyers as that sees both offers taken and units left for the open re-sale.
    const waitlist = createWaitlistCrowd({ http, limiter, activityId, target: Math.max(5, Math.ceil(options.units * 0.1)) });
    const markers: PhaseMarker[] = [];
    const mark = (label: string, tMs = Date.now() - recorder.startedAt) => markers.push({ label, tMs });

    // ---- live sampling
    let phase = 'waiting';
    const timeline: ProgressSample[] = [];
    let lastStats: Stats | undefined;
    let drainedAtMs: number | undefined;
    let lastRequests = 0;
    let lastT = 0;
    const sample = async () => {
      const answer = await admin('GET', `/api/v1/admin/activities/${activityId}/stats`).catch(() => undefined);
      if (answer?.status !== 200) return;
      const s = answer.body as Stats;
      lastStats = s;
      const tMs = Date.now() - recorder.startedAt;
      const rps = tMs > lastT ? ((recorder.requests - lastRequests) * 1000) / (tMs - lastT) : 0;
      lastRequests = recorder.requests;
      lastT = tMs;
      const persisted = Object.entries(s.orders).reduce((sum, [k, v]) => (k === 'QUEUED' ? sum : sum + v), 0);
      const point: ProgressSample = {
        tMs,
        phase,
        requests: recorder.requests,
        requestsPerSec: round(rps),
        accepted: recorder.accepted.size,
        stock: s.stock,
        remaining: s.redis.remaining,
        available: s.db.available,
        locked: s.db.locked,
        sold: s.db.sold,
        persisted,
        queued: s.orders['QUEUED'] ?? 0,
      };
      timeline.push(point);
      progress.update(point);
      // The queue has drained once, after the sell-out, everything accepted so far has a row.
      if (drainedAtMs === undefined && phase !== 'waiting' && recorder.firstSoldOutMs !== undefined && point.queued === 0 && persisted >= recorder.accepted.size) {
        drainedAtMs = tMs;
      }
    };
    let sampling = false;
    sampler = setInterval(() => {
      if (sampling) return;
      sampling = true;
      sample().finally(() => {
        sampling = false;
      });
    }, 500);

    // ---- the pre-queue: everyone but the bots joins before the start (who joins first gains nothing)
    if (queue) {
      await Promise.all(buyers.filter((b) => b.kind !== 'bot').map((b) => queue.join(b)));
      const { joined, prequeue } = queue.counts();
      progress.log(`${joined} buyers joined the waiting room (${prequeue} before the start)`);
      // The shuffle's fairness is read from the server's own places, before anyone is admitted.
      await sleep(Math.max(0, startAtMs - Date.now() - 300));
      if (Date.now() < startAtMs - 50) await queue.snapshotBeforeStart({ redisUrl: service.redisUrl, redisPrefix: service.redisPrefix, shards: activityShards });
      else notes.push('fairness not checked: the pre-queue was still joining at the start');
    }

    // ---- buying
    await sleep(Math.max(0, startAtMs - Date.now() + 50));
    (recorder as { startedAt: number }).startedAt = Date.now();
    lastRequests = 0;
    lastT = 0;
    timeline.length = 0;
    phase = 'buying';
    mark('sale starts', 0);
    await Promise.all(
      buyers.map(async (b) => {
        if (queue && b.kind !== 'bot') {
          b.pass = await queue.waitForTurn(b);
          if (!b.pass) {
            // Told early there is nothing left for them: they go where the rush's losers go.
            b.lastRefusal = 'SOLD_OUT';
            if (b.kind === 'normal') await waitlist.join(b);
            return;
          }
        }
        await crowd.buy(b);
        // Told SOLD_OUT, some join the waitlist at once: the only moment joining is allowed.
        if (b.kind === 'normal' && b.orders.size === 0 && b.lastRefusal === 'SOLD_OUT') await waitlist.join(b);
      }),
    );
    const buyingMs = Date.now() - recorder.startedAt;
    if (recorder.firstSoldOutMs !== undefined) mark('sold out', recorder.firstSoldOutMs);
    mark('buying ends', buyingMs);
    progress.log(`buying phase over in ${(buyingMs / 1000).toFixed(1)} s: ${recorder.requests} requests, ${recorder.accepted.size} orders accepted`);

    // ---- draining
    phase = 'draining';
    const drained = async (deadlineMs: number) => {
      while (Date.now() < deadlineMs) {
        await sample();
        const s = lastStats;
        if (s && (s.orders['QUEUED'] ?? 0) === 0) {
          const persisted = Object.entries(s.orders).reduce((sum, [k, v]) => (k === 'QUEUED' ? sum : sum + v), 0);
          if (persisted >= recorder.accepted.size) return true;
        }
        await sleep(200);
      }
      return false;
    };
    const drainedOk = await drained(Date.now() + 120_000);
    const drainMs = drainedAtMs ?? Date.now() - recorder.startedAt;
    if (!drainedOk) notes.push('the order queue did not drain within 120 s');
    const afterBuying = lastStats;
    if (drainedOk) mark('all orders in MySQL', drainMs);
    progress.log(
      `queue drained at ${(drainMs / 1000).toFixed(1)} s: locked ${afterBuying?.db.locked} sold ${afterBuying?.db.sold} available ${afterBuying?.db.available} of ${options.units}`,
    );

    // ---- paying and re-buying
    phase = 'paying';
    const payment = await paymentPhase({
      http,
      limiter,
      crowd,
      waitlist,
      ...(queue ? { queue } : {}),
      buyers,
      byUser,
      recorder,
      activityId,
      options,
      notes,
      sample,
      stats: () => lastStats,
      mark,
    });
    phase = 'final';
    await drained(Date.now() + 60_000);

    // ---- promises
    phase = 'checking';
    clearInterval(sampler);
    sampler = undefined;
    progress.done();
    const canSellOut = options.buyers * options.limit >= options.units;
    const promises = await checkPromises({
      mysqlUrl: service.mysqlUrl,
      redisUrl: service.redisUrl,
      redisPrefix: service.redisPrefix,
      activityId,
      accepted: recorder.accepted,
      idempotencyMismatches: recorder.idempotencyMismatches,
      ...(canSellOut ? { expectFullySold: true } : {}),
      ...(payment.ran ? { payment: { unpaid: payment.unpaid, paid: payment.paid, graceMs: 5 * 500 + 5000 } } : {}),
    });
    if (!canSellOut) notes.push('promise 2 not checked: buyers × limit < units');

    // ---- report
    const firstAccept = Math.min(...[...recorder.accepted.values()].map((a) => a.atMs));
    const persistWindowS = (drainMs - (Number.isFinite(firstAccept) ? firstAccept : 0)) / 1000;
    const persistedInBuying = afterBuying ? afterBuying.db.locked + afterBuying.db.sold + (afterBuying.orders['FAILED'] ?? 0) : 0;
    const latency = Object.fromEntries([...recorder.histograms].map(([k, h]) => [k, summarize(h)]));
    latency['ALL'] = summarize(recorder.all);
    const sellOutMs = recorder.firstSoldOutMs ?? (recorder.accepted.size >= options.units ? recorder.lastAcceptedMs : undefined);
    const report: DemoReport = {
      startedAt: startedAt.toISOString(),
      machine,
      options: { ...options },
      service: { url: service.url, database: service.mysqlUrl.replace(/^.*\//, ''), redisPrefix: service.redisPrefix, topicPrefix: service.topicPrefix },
      activityId,
      outcomes: Object.fromEntries(recorder.outcomes),
      throughput: {
        requests: recorder.requests,
        buyingPhaseSeconds: round(buyingMs / 1000, 2),
        requestsPerSecond: round(recorder.requests / (buyingMs / 1000)),
        peakRequestsPerSecond: Math.max(0, ...timeline.map((s) => s.requestsPerSec)),
      },
      latency,
      timeToSellOutSeconds: sellOutMs === undefined ? null : round(sellOutMs / 1000, 2),
      timeToDrainSeconds: drainedOk ? round(drainMs / 1000, 2) : null,
      ordersPersistedPerSecond: persistWindowS > 0 ? round(persistedInBuying / persistWindowS) : null,
      peakOrdersPersistedPerSecond: peakPersistRate(timeline),
      payment: { ...payment, unpaid: payment.unpaid.length, paid: payment.paid.length },
      markers: markers.sort((a, b) => a.tMs - b.tMs),
      promises,
      allPromisesHeld: promises.every((p) => p.held),
      timeline,
      notes,
      ...(queue ? { waitingRoom: queue.stats() } : {}),
    };
    if (report.waitingRoom?.fairness.uniform === false) notes.push(`the pre-queue's places follow its join order (Spearman ${report.waitingRoom.fairness.spearman})`);
    const paths = writeReport(dir, report);
    return { report, dir: paths.html.replace(/\/report\.html$/, ''), ok: report.allPromisesHeld };
  } finally {
    if (sampler) clearInterval(sampler);
    progress.done();
    http.close();
    if (options.keepRunning) {
      progress.log(`the service keeps running at ${service.url} (pid ${running.child.pid}); admin token ${service.adminToken}`);
      running.child.unref();
    } else {
      await running.stop();
      if (!options.keepData) {
        const problems = await dropServiceData(service);
        for (const p of problems) progress.log(`cleanup: ${p}`);
      }
    }
  }
}

/** The fastest rise of persisted orders between two samples. */
function peakPersistRate(timeline: ProgressSample[]): number {
  let peak = 0;
  for (let i = 1; i < timeline.length; i++) {
    const a = timeline[i - 1]!;
    const b = timeline[i]!;
    if (b.tMs > a.tMs) peak = Math.max(peak, ((b.persisted - a.persisted) * 1000) / (b.tMs - a.tMs));
  }
  return round(peak);
}

async function expectOk(answer: Answer, status: number): Promise<unknown> {
  if (answer.status !== status) throw new Error(`expected HTTP ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

interface PaymentContext {
  http: HttpClient;
  limiter: Limiter;
  crowd: ReturnType<typeof createCrowd>;
  waitlist: ReturnType<typeof createWaitlistCrowd>;
  /** The waiting room, when the sale has one: a re-buyer goes through the line again. */
  queue?: ReturnType<typeof createQueueCrowd>;
  buyers: Buyer[];
  byUser: Map<string, Buyer>;
  recorder: Recorder;
  activityId: string;
  options: DemoOptions;
  notes: string[];
  sample: () => Promise<void>;
  stats: () => Stats | undefined;
  mark: (label: string, tMs?: number) => void;
}

interface PaymentOutcome extends Omit<PaymentSummary, 'paid' | 'unpaid'> {
  paid: string[];
  unpaid: string[];
}

/**
 * Winners pay (the simulator makes most succeed and some fail), some cancel, some never pay and
 * must time out; meanwhile losers wait (some on the waitlist) and buy the units that come back.
 */
async function paymentPhase(ctx: PaymentContext): Promise<PaymentOutcome> {
  const { http, limiter, crowd, waitlist, byUser, recorder, options, notes } = ctx;
  const out: PaymentOutcome = {
    ran: false,
    paid: [],
    unpaid: [],
    cancelledByUser: 0,
    paymentFailed: 0,
    timedOut: 0,
    rebought: 0,
    waitlist: waitlist.stats,
    secondsUntilStable: null,
  };
  const call = (buyer: Buyer, method: string, path: string) => limiter.run(() => http.call(method, path, { token: buyer.token }));
  const getOrder = async (buyer: Buyer, orderId: string): Promise<OrderView | undefined> => {
    const a = await call(buyer, 'GET', `/api/v1/orders/${orderId}`).catch(() => undefined);
    return a?.status === 200 ? (a.body as { order: OrderView }).order : undefined;
  };
  const waitFor = async (buyer: Buyer, orderId: string, done: (s: string) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last: OrderView | undefined;
    while (Date.now() < deadline) {
      last = await getOrder(buyer, orderId);
      if (last && done(last.status)) return last;
      await sleep(300);
    }
    return last;
  };

  const winners = [...recorder.accepted].map(([orderId, a]) => ({ orderId, buyer: byUser.get(a.userId)! }));
  const views = await Promise.all(winners.map((w) => waitFor(w.buyer, w.orderId, (s) => s !== 'QUEUED', 30_000)));
  const pending = winners.filter((_, i) => views[i]?.status === 'PENDING_PAYMENT');
  if (pending.length === 0) {
    out.skippedBecause = 'no PENDING_PAYMENT order';
    return out;
  }
  const probe = pending[0]!;
  const probeAnswer = await call(probe.buyer, 'POST', `/api/v1/orders/${probe.orderId}/pay`);
  if (probeAnswer.status === 404 && errorCode(probeAnswer) !== 'NOT_FOUND') {
    out.skippedBecause = 'POST /orders/{id}/pay is not served by this build (404)';
    notes.push(`payment phase skipped: ${out.skippedBecause}`);
    return out;
  }
  if (probeAnswer.status === 404) {
    out.skippedBecause = 'pay answered 404 NOT_FOUND for an existing order (route missing?)';
    notes.push(`payment phase skipped: ${out.skippedBecause}`);
    return out;
  }
  out.ran = true;
  const started = Date.now();
  ctx.mark('payment phase');
  // Unpaid orders were created during the buying phase: the first expire one timeout after the first 202.
  const firstAcceptMs = Math.min(...[...recorder.accepted.values()].map((a) => a.atMs));
  ctx.mark('first payment timeouts due', firstAcceptMs + options.paymentTimeoutSeconds * 1000);
  const finals = new Set(['PAID', 'CANCELLED', 'FAILED']);

  /** Pays an order and watches it to PAID or CANCELLED. */
  const payAndWatch = async (buyer: Buyer, orderId: string, alreadyPaid = false) => {
    if (!alreadyPaid) {
      const placed = await waitFor(buyer, orderId, (s) => s !== 'QUEUED', 30_000);
      if (placed?.status !== 'PENDING_PAYMENT') return;
      await call(buyer, 'POST', `/api/v1/orders/${orderId}/pay`);
    }
    const end = await waitFor(buyer, orderId, (s) => finals.has(s), 30_000);
    if (end?.status === 'PAID') out.paid.push(orderId);
    else if (end?.reason === 'PAYMENT_FAILED') out.paymentFailed++;
  };

  const tasks: Promise<unknown>[] = [payAndWatch(probe.buyer, probe.orderId, true)];
  pending.slice(1).forEach((w, i) => {
    const slot = (i + 1) % 20;
    if (slot < 2) {
      out.unpaid.push(w.orderId); // 10 %: walk away; the reaper must expire them
    } else if (slot === 2) {
      tasks.push(
        call(w.buyer, 'POST', `/api/v1/orders/${w.orderId}/cancel`).then((a) => {
          if (a.status === 200) out.cancelledByUser++;
        }),
      );
    } else {
      tasks.push(payAndWatch(w.buyer, w.orderId));
    }
  });

  // Losers: the ones refused SOLD_OUT who hold nothing and are not on the waitlist watch
  // `remaining` and try again when units come back on open sale.
  const others = ctx.buyers.filter((b) => b.orders.size === 0 && b.lastRefusal === 'SOLD_OUT' && !waitlist.joined(b));
  let nextOther = 0;
  if (waitlist.stats.joined === 0) {
    notes.push(`nobody joined the waitlist (${waitlist.stats.refusedNotSoldOut} joins answered NOT_SOLD_OUT)`);
  }

  const rebuy = async (buyer: Buyer) => {
    if (ctx.queue) {
      buyer.pass = await ctx.queue.waitForTurn(buyer);
      if (!buyer.pass) return;
    }
    const outcome = await crowd.polite(buyer, newRequestId(), 4);
    if (outcome === 'ACCEPTED') {
      out.rebought++;
      const orderId = [...buyer.orders].at(-1)!;
      tasks.push(payAndWatch(buyer, orderId));
    }
  };

  /** An offered waitlist buyer purchases (the held unit is theirs) and pays like any winner. */
  const takeOffer = async (buyer: Buyer) => {
    const outcome = await crowd.polite(buyer, newRequestId(), 4);
    if (outcome !== 'ACCEPTED') return false;
    tasks.push(payAndWatch(buyer, [...buyer.orders].at(-1)!));
    return true;
  };

  const expiryAt = started + options.paymentTimeoutSeconds * 1000 + 5000;
  const deadline = started + options.paymentTimeoutSeconds * 1000 + 90_000;
  let stableTicks = 0;
  while (Date.now() < deadline) {
    await ctx.sample();
    const s = ctx.stats();
    if (s) {
      // Waitlisted users buy as soon as they are offered a unit.
      await waitlist.poll(takeOffer);
      // Everyone else: a wave of waiting buyers per unit back on sale.
      const back = s.redis.remaining;
      if (back > 0 && nextOther < others.length) {
        const wave = others.slice(nextOther, nextOther + Math.min(50, back * 2));
        nextOther += wave.length;
        tasks.push(...wave.map((b) => rebuy(b)));
      }
      const queued = s.orders['QUEUED'] ?? 0;
      const settled =
        s.db.available === 0 && s.redis.remaining === 0 && queued === 0 && (s.orders['PENDING_PAYMENT'] ?? 0) === 0 && !waitlist.active();
      // Stable: every unpaid order has had time to expire and nothing is left to sell or pay.
      stableTicks = Date.now() > expiryAt && settled ? stableTicks + 1 : 0;
      if (stableTicks >= 3) break;
      if (Date.now() > expiryAt && nextOther >= others.length && s.redis.remaining > 0) {
        notes.push('ran out of waiting buyers before every returned unit was re-sold');
        break;
      }
    }
    await sleep(500);
  }
  await Promise.all(tasks);
  await waitlist.finish();
  // Purchases from offers may have started more payments after the first wait.
  await Promise.all(tasks);
  out.secondsUntilStable = stableTicks >= 3 ? round((Date.now() - started) / 1000, 1) : null;
  if (out.secondsUntilStable !== null) ctx.mark('settled', Date.now() - recorder.startedAt);
  if (out.secondsUntilStable === null) notes.push('payment phase ended on its deadline, not on a settled state');
  const final = await Promise.all(out.unpaid.map((id) => getOrder(byUser.get(recorder.accepted.get(id)!.userId)!, id)));
  out.timedOut = final.filter((o) => o?.status === 'CANCELLED' && o.reason === 'PAYMENT_TIMEOUT').length;
  return out;
}
