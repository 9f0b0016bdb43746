/**
 * The one checker: reads a run's whole history (every answer the crowd got, /readyz samples, the
 * faults' outcomes, the service's exits and log) and what MySQL and Redis hold at the end, and
 * judges it against the promises of docs/api.md and the fault contract of the README. Each check is named and
 * explains itself with numbers, so a failing run says what broke.
 *
 * The weaker forms the README documents for a Redis that lost data (a wipe, a restart without
 * persistence, a failover without the old master's agreement: a 202 ending FAILED OUT_OF_STOCK,
 * LIMIT_EXCEEDED or DUPLICATE_REQUEST, a replay answered a second order id) are allowed only in
 * runs with such a fault, and only for answers on either side of it; they are counted, not hidden.
 */
import { readFileSync } from 'node:fs';
import { checkPromises, type PromiseResult } from '../demo/promises.ts';
import type { Answer, Click } from './crowd.ts';
import { READY_BOUND_MS, type RunHistory } from './sale.ts';
import { DRAIN_LIMIT_MS } from './service.ts';
import { type OrderRow, Truth } from './truth.ts';
import { MYSQL_SERVER } from './world.ts';

export interface Check {
  name: string;
  violations: string[];
}

export interface Verdict {
  checks: Check[];
  failed: Check[];
  /** Lines worth printing for every run (answers, recovery, readiness flips, breaches allowed). */
  notes: string[];
  /** ms from the last heal to the first 202 after it (undefined: none needed or none came). */
  recoveryMs: number | undefined;
  /** ms from the last heal until every 202 was an order and nothing was in flight. */
  settleMs: number | undefined;
  /** Per fault healed while units were left: ms from its heal to the first 202 sent after it. */
  recoveries: Array<{ kind: string; ms: number; alone: boolean }>;
  /** Documented weaker forms seen (README, "Redis replication is asynchronous"). */
  breaches: Record<string, number>;
}

/** Purchases must succeed again this soon after the last fault healed, if units were left. */
export const RECOVERY_BOUND_MS = 30_000;
/**
 * Every 202 is an order (or FAILED, units returned) and nothing is in flight this soon after the
 * last fault healed: an unknown publish is resent within 30 s, a pending answer older than 30 s is
 * published again by the next reconciliation (2 s apart in the campaign), and the worker drains.
 */
export const SETTLE_BOUND_MS = 60_000;
/** A restarted service must answer HTTP this soon (it listens before its consumers join). */
export const LISTEN_BOUND_MS = 15_000;
/** How far apart MySQL's clock (in updated_at) and the arrival of an answer may be. */
const CLOCK_SLACK_MS = 2000;
const EXPECTED = new Set(['202', '409 SOLD_OUT', '409 LIMIT_EXCEEDED', '503 BUSY', '429 RATE_LIMITED', '0']);

/** Returns units to sale: a cancellation, or a FAILED order whose units were given back. */
const returnsUnits = (order: OrderRow) => order.status === 'CANCELLED' || (order.status === 'FAILED' && order.reason !== 'OUT_OF_STOCK');
const keyOf = (c: { userId: string; requestId: string }) => `${c.userId}|${c.requestId}`;
export const outcome = (a: Answer) => (a.status === 202 || a.status === 0 ? String(a.status) : `${a.status} ${a.code ?? '?'}`);

export async function check(history: RunHistory): Promise<Verdict> {
  const { plan, run, world, crowd } = history;
  const rel = (at: number) => `${((at - history.startedAt) / 1000).toFixed(1)}s`;
  const clicks = crowd.clicks;
  const answers = crowd.answers();
  const accepted = crowd.accepted();
  const notes: string[] = [];
  const breaches: Record<string, number> = {};
  const truth = await Truth.open({ mysqlServer: MYSQL_SERVER, database: run.database, redisUrl: world.redisUrl, redisPrefix: run.redisPrefix, activityId: history.activityId, shards: plan.sale.shards });
  let orders: Map<string, OrderRow>;
  try {
    orders = await truth.orders();
  } finally {
    await truth.close();
  }
  // Redis may have forgotten writes between these moments (a fault that loses data).
  const forgetting = history.faults.filter((f) => f.redisMayForget).map((f) => ({ from: f.startedAt, to: f.healedAt }));
  const acrossForgetting = (before: number, after: number) => forgetting.some((w) => before <= w.to && after >= w.from);

  // One requestId, one answer: never two order ids; never "you won" and then "you lost".
  const answersByRequest = new Map<string, Answer[]>();
  const firstSentByRequest = new Map<string, number>();
  for (const click of clicks) {
    const key = keyOf(click);
    answersByRequest.set(key, [...(answersByRequest.get(key) ?? []), ...click.answers]);
    const first = click.answers[0]?.sentAt;
    if (first !== undefined) firstSentByRequest.set(key, Math.min(firstSentByRequest.get(key) ?? Infinity, first));
  }
  const idMismatches: string[] = [];
  const wonThenLost: string[] = [];
  let allowedSecondIds = 0;
  let allowedWonThenLost = 0;
  for (const [key, list] of answersByRequest) {
    const wins = list.filter((a) => a.status === 202 && a.orderId);
    const ids = [...new Set(wins.map((a) => a.orderId!))];
    if (ids.length > 1) {
      // A second id for one request is the documented DUPLICATE_REQUEST, if Redis forgot the first
      // in between: all but one of the ids are FAILED so (whichever reached MySQL first is kept;
      // orders are keyed by id, so the later id may well be persisted first).
      const duplicates = ids.filter((id) => orders.get(id)?.status === 'FAILED' && orders.get(id)?.reason === 'DUPLICATE_REQUEST');
      const lastWin = wins.find((a) => a.orderId === ids[ids.length - 1])!.sentAt;
      const excused = duplicates.length >= ids.length - 1 && acrossForgetting(wins[0]!.doneAt, lastWin);
      if (excused) allowedSecondIds++;
      else idMismatches.push(`${key} was answered ${ids.length} order ids: ${ids.join(', ')}`);
    }
    const firstWin = wins[0];
    if (firstWin) {
      const lost = list.find((a) => a.doneAt > firstWin.doneAt && a.status !== 202 && a.status !== 0 && a.status !== 503 && a.status !== 429);
      if (lost) {
        if (acrossForgetting(firstWin.doneAt, lost.sentAt)) allowedWonThenLost++;
        else wonThenLost.push(`${key} was answered 202 at ${rel(firstWin.doneAt)} and ${outcome(lost)} at ${rel(lost.doneAt)}`);
      }
    }
  }
  if (allowedSecondIds > 0) breaches['second order id after Redis lost the answer (FAILED DUPLICATE_REQUEST)'] = allowedSecondIds;
  if (allowedWonThenLost > 0) breaches['202 then refused after Redis lost the answer'] = allowedWonThenLost;

  const promises = await checkPromises({
    mysqlUrl: `${MYSQL_SERVER}/${run.database}`,
    redisUrl: world.redisUrl,
    redisPrefix: run.redisPrefix,
    activityId: history.activityId,
    accepted,
    idempotencyMismatches: idMismatches.length,
    expectFullySold: true,
  });
  const promise = (id: PromiseResult['id']) => promises.find((p) => p.id === id)!;

  const checks: Check[] = [];
  const add = (name: string, violations: string[]) => checks.push({ name, violations });

  // Winners that ended FAILED, by reason; the Redis-lost ones are the documented weaker form.
  const failedBy = new Map<string, number>();
  for (const [id] of accepted) {
    const order = orders.get(id);
    if (order?.status === 'FAILED') failedBy.set(order.reason ?? '?', (failedBy.get(order.reason ?? '?') ?? 0) + 1);
  }
  const redisLostWinners = ['OUT_OF_STOCK', 'LIMIT_EXCEEDED', 'DUPLICATE_REQUEST'].reduce((n, reason) => n + (failedBy.get(reason) ?? 0), 0);

  {
    // "More 202s than units ever on sale" is the weaker form itself when Redis forgot reservations:
    // the surplus is exactly the 202s MySQL refused. Anything beyond that is an oversell.
    const v = promise(1).violations.filter((line) => {
      const match = /^(\d+) distinct 202 order ids > (\d+) units ever on sale/.exec(line);
      if (!match || forgetting.length === 0) return true;
      return Number(match[1]) - Number(match[2]) > redisLostWinners;
    });
    add('promise 1: never oversell', v);
  }
  add('promise 3: nobody over limitPerUser', promise(3).violations);
  add('promise 4: every 202 id reaches MySQL, none twice', promise(4).violations);

  {
    const v: string[] = [];
    for (const [id] of accepted) {
      const order = orders.get(id);
      if (order && order.status !== 'FAILED' && order.status !== 'PENDING_PAYMENT' && order.status !== 'PAID') v.push(`202 order ${id} is ${order.status} ${order.reason ?? ''}, though nobody cancelled or paid`);
    }
    for (const [reason, n] of failedBy) {
      if (reason === 'DEAD_LETTERED') v.push(`${n} winners (202) were dead-lettered by a transient fault`);
      else if (['OUT_OF_STOCK', 'LIMIT_EXCEEDED', 'DUPLICATE_REQUEST'].includes(reason)) {
        if (forgetting.length > 0) breaches[`202 ended FAILED ${reason} (Redis lost data)`] = n;
        else v.push(`${n} winners (202) FAILED ${reason} though Redis lost nothing: the gate let through what MySQL refused`);
      } else v.push(`${n} winners (202) FAILED ${reason}`);
    }
    add('every 202 is an order (or FAILED, units returned); none dead-lettered', v);
  }

  add('one requestId, one answer', [...idMismatches.slice(0, 10), ...wonThenLost.slice(0, 10), ...(idMismatches.length + wonThenLost.length > 20 ? [`… ${idMismatches.length + wonThenLost.length} in all`] : [])]);

  // Answers: no 500s, a Retry-After on every 503, nothing but the codes a purchase may answer.
  {
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(outcome(a), (counts.get(outcome(a)) ?? 0) + 1);
    const fiveHundreds = [...counts].filter(([o]) => o.startsWith('5') && !o.startsWith('503'));
    add('no 5xx but 503', fiveHundreds.map(([o, n]) => `${n} × ${o}`));
    const bare503 = answers.filter((a) => a.status === 503 && !a.retryAfter);
    add('every 503 carries Retry-After', bare503.length > 0 ? [`${bare503.length} of ${counts.get('503 BUSY') ?? 0} 503 answers had no Retry-After (first at ${rel(bare503[0]!.doneAt)})`] : []);
    const unexpected = [...counts].filter(([o]) => !EXPECTED.has(o) && !(o.startsWith('5') && !o.startsWith('503')));
    add('only the answers a purchase may give', unexpected.map(([o, n]) => `${n} × ${o}`));
    notes.push(`answers: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
  }

  // No unit stranded: with buyers still coming, everything ends up in an order.
  {
    const v = [...promise(2).violations];
    if (history.final.redisRemaining !== 0) v.push(`Redis remaining is ${history.final.redisRemaining} after the drain (MySQL available ${history.final.available})`);
    if (history.drainedAt === undefined) v.push('the order pipeline did not drain (reservations in flight, or 202 ids missing in MySQL)');
    if (v.length > 0) v.push(`(buyers left over: ${crowd.leftOver}; buyers stopped because sold out: ${history.soldOutSeen})`);
    add('promise 2: no unit stranded once the faults are over', v);
  }

  // No false SOLD_OUT: a SOLD_OUT is false when, after it was answered, more units were won by
  // requests sent after it than could have come back (cancelled, or FAILED with units returned)
  // since: those units were for sale when the buyer was told there were none.
  {
    const wins = [...accepted]
      .filter(([id]) => {
        const status = orders.get(id)?.status;
        return status === 'PENDING_PAYMENT' || status === 'PAID';
      })
      .map(([, who]) => firstSentByRequest.get(keyOf(who)) ?? 0);
    const returns = [...orders.values()].filter(returnsUnits);
    const soldOuts = clicks.flatMap((click: Click) => {
      const first = click.answers.find((a) => a.status === 409 && a.code === 'SOLD_OUT');
      return first ? [first.doneAt] : [];
    });
    const falseOnes: Array<{ at: number; newWins: number; returned: number }> = [];
    for (const at of soldOuts) {
      const newWins = wins.filter((sent) => sent > at).length;
      const returned = returns.filter((o) => o.changedAtMs >= at - CLOCK_SLACK_MS).reduce((n, o) => n + o.quantity, 0);
      if (newWins > returned) falseOnes.push({ at, newWins, returned });
    }
    falseOnes.sort((a, b) => a.at - b.at);
    const first = falseOnes[0];
    add(
      'no false SOLD_OUT',
      first
        ? [
            `${falseOnes.length} of ${soldOuts.length} SOLD_OUT answers were false; the first at ${rel(first.at)}: afterwards ${first.newWins} units went to requests sent later, while only ${first.returned} units came back`,
            `last false one at ${rel(falseOnes[falseOnes.length - 1]!.at)}`,
          ]
        : [],
    );
  }

  // Recovery: purchases succeed again soon after the last heal, and every 202 settles in bounded time.
  let recoveryMs: number | undefined;
  let settleMs: number | undefined;
  const recoveries: Verdict['recoveries'] = [];
  {
    const v: string[] = [];
    const after = answers.filter((a) => a.status === 202 && a.sentAt >= history.healedAt).map((a) => a.doneAt);
    const recoveredAt = after.length > 0 ? Math.min(...after) : undefined;
    // Units left when the faults ended, by the last sample before the heal.
    const atHeal = [...history.states].reverse().find((s) => s.at <= history.healedAt);
    const unitsLeft = atHeal === undefined || atHeal.available > 0;
    if (recoveredAt !== undefined) recoveryMs = recoveredAt - history.healedAt;
    if (recoveredAt === undefined && unitsLeft && after.length === 0 && history.final.available === 0 && history.final.locked + history.final.sold > 0) {
      // Everything was sold by requests sent during the faults: nothing to recover.
    } else if (recoveredAt === undefined && unitsLeft) v.push('no purchase succeeded after the faults');
    else if (recoveryMs !== undefined && recoveryMs > RECOVERY_BOUND_MS) v.push(`purchases succeeded again only ${recoveryMs} ms after the last fault healed (bound ${RECOVERY_BOUND_MS} ms)`);
    // Per fault: after each heal that left units for sale and no other fault under way for the
    // bound, purchases must succeed again within it too.
    for (const fault of history.faults) {
      const state = [...history.states].reverse().find((st) => st.at <= fault.healedAt);
      if (!state || (state.available === 0 && (state.redisRemaining ?? 0) === 0)) continue;
      const first = answers.filter((a) => a.status === 202 && a.sentAt >= fault.healedAt).map((a) => a.doneAt);
      if (first.length === 0) continue;
      const ms = Math.min(...first) - fault.healedAt;
      const alone = !history.faults.some((other) => other !== fault && other.startedAt <= fault.healedAt + RECOVERY_BOUND_MS && other.healedAt > fault.healedAt);
      recoveries.push({ kind: fault.step.kind, ms, alone });
      if (alone && ms > RECOVERY_BOUND_MS) v.push(`purchases succeeded again only ${ms} ms after ${fault.label} healed (bound ${RECOVERY_BOUND_MS} ms)`);
    }
    add('purchases succeed again after the faults', v);
    if (history.drainedAt !== undefined) settleMs = Math.max(0, history.drainedAt - history.healedAt);
    const s: string[] = [];
    if (settleMs === undefined) s.push('some 202 was still not an order, or a reservation still in flight, at the end');
    else if (settleMs > SETTLE_BOUND_MS && history.marks.every((m) => !m.label.startsWith('late buyers'))) s.push(`the last 202 settled ${settleMs} ms after the last fault healed (bound ${SETTLE_BOUND_MS} ms)`);
    add('every 202 settles within the bound after the faults', s);
    notes.push(`recovery: faults ${rel(history.faultPhaseAt)}–${rel(history.healedAt)}; ${recoveryMs === undefined ? 'no 202 after them' : `first 202 after them ${recoveryMs} ms after the last heal`}; settled ${settleMs === undefined ? 'never' : `${settleMs} ms after it`}`);
  }

  // Readiness: 503 while orders surely could not flow, 200 at the end.
  {
    const v: string[] = [];
    for (const fault of history.faults) {
      const window = fault.blocked;
      if (!window) continue;
      const ok = history.readiness.filter((s) => s.at >= window.from && s.at <= window.to && s.status === 200);
      if (ok.length > 0) v.push(`/readyz answered 200 ${ok.length} times from ${rel(window.from)} to ${rel(window.to)} (${window.why}), first at ${rel(ok[0]!.at)}`);
    }
    const backAt = history.readiness.find((s) => s.at > history.healedAt && s.status === 200)?.at;
    if (backAt === undefined || backAt - history.healedAt > READY_BOUND_MS) {
      v.push(`/readyz did not answer 200 within ${READY_BOUND_MS} ms of the last heal${backAt === undefined ? '' : ` (only after ${backAt - history.healedAt} ms)`}`);
    }
    const last = history.readiness[history.readiness.length - 1];
    if (backAt !== undefined && last && last.status !== 200) v.push(`/readyz answers ${last.status} at the end, after it was 200 again`);
    add('readiness: 503 while orders cannot flow, 200 after', v);
    const flips: string[] = [];
    let previous = -1;
    for (const s of history.readiness) {
      if (s.status !== previous) flips.push(`${rel(s.at)}:${s.status}`);
      previous = s.status;
    }
    notes.push(`readyz: ${flips.slice(0, 40).join(' ')}${flips.length > 40 ? ' …' : ''}`);
  }

  // Stops and restarts: every SIGTERM drains within the limit and exits 0; nothing dies unasked.
  {
    const v: string[] = [];
    const terms = [...history.faults.flatMap((f) => (f.termination ? [f.termination] : [])), ...(history.finalExit ? [history.finalExit] : [])];
    for (const exit of terms) {
      if (exit.code !== 0) v.push(`SIGTERM of service process #${exit.generation} ended with ${exit.code ?? exit.killedBy} after ${exit.tookMs} ms (expected exit 0)`);
      else if ((exit.tookMs ?? 0) > DRAIN_LIMIT_MS) v.push(`SIGTERM of service process #${exit.generation} took ${exit.tookMs} ms (limit ${DRAIN_LIMIT_MS} ms)`);
    }
    const unasked = run.service.exits.filter((e) => e.signal === undefined && !e.refusedStart);
    for (const exit of unasked) v.push(`service process #${exit.generation} exited by itself (${exit.code ?? exit.killedBy}) at ${rel(exit.at)}`);
    const log = readLog(run.service.logFile);
    const childDeaths = log.filter((line) => /seckill: API process \d+ exited/.test(line)).length;
    const childKills = history.faults.filter((f) => (f.step.kind === 'api-kill' || f.step.kind === 'worker-kill') && f.effect).length;
    // A process started again while a dependency is away refuses to start (one line, exit 1) and
    // its primary tries again with back-off: by design, not a crash.
    const refusedStarts = log.filter((line) => line.startsWith('seckill: could not start:')).length - run.service.exits.filter((e) => e.refusedStart).length;
    if (childDeaths > childKills + refusedStarts) v.push(`${childDeaths} API processes died: ${childKills} killed by the campaign, ${refusedStarts} could not start`);
    if (refusedStarts > 0) notes.push(`${refusedStarts} process start(s) refused while a dependency was away, then retried by the primary`);
    for (const fault of history.faults) {
      const listen = fault.marks.find((m) => m.label.startsWith('listening after'));
      const ms = listen ? Number(/after (\d+) ms/.exec(listen.label)?.[1]) : undefined;
      if (ms === undefined || ms <= LISTEN_BOUND_MS) continue;
      // The bound is for a start with its dependencies there: one that meets another fault cannot
      // migrate or connect until that fault heals (it refuses to start and is started again).
      const from = fault.healedAt;
      const meetsAnother = history.faults.some((other) => other !== fault && other.startedAt <= from + ms && other.healedAt >= from);
      if (meetsAnother) notes.push(`${fault.step.kind}: the service answered HTTP ${ms} ms after its restart, which met another fault`);
      else v.push(`the service started again after ${fault.step.kind} answered HTTP only after ${ms} ms (bound ${LISTEN_BOUND_MS} ms)`);
    }
    add('SIGTERM drains within its limit and exits 0; nothing dies unasked', v);
    // Returned units clear every process's sold-out flag over pub/sub: a process that stopped
    // hearing it answers SOLD_OUT for units that are back on sale.
    add(
      'every API process still hears pub/sub',
      history.subscribers < plan.apiProcesses ? [`${history.subscribers} subscribers of the units-returned channel at the end, for ${plan.apiProcesses} API processes`] : [],
    );

    // Periodic tasks back off while a dependency is away: a failure line for the first failure, every
    // 20th and after each recovery, never one per tick.
    const perTask = new Map<string, number>();
    for (const line of log) {
      if (!line.includes('periodic task failed')) continue;
      const task = /"task":"([^"]+)"/.exec(line)?.[1] ?? '?';
      perTask.set(task, (perTask.get(task) ?? 0) + 1);
    }
    const runMinutes = (Date.now() - history.startedAt) / 60_000;
    const bound = Math.ceil(3 * plan.faults.length + 2 * runMinutes);
    const flooding = [...perTask].filter(([, n]) => n > bound);
    add('periodic tasks back off instead of failing in a loop', flooding.map(([task, n]) => `${n} "periodic task failed" lines from ${task} (bound ${bound} for this run)`));
    if (perTask.size > 0) notes.push(`"periodic task failed" lines: ${JSON.stringify(Object.fromEntries(perTask))}`);
  }

  // A fault on the service's connections finds none while the service itself is stopped: the
  // plan overlapped them, the run is still a run (a note); anywhere else it is a broken injection.
  const serviceDown = history.faults.filter((f) => f.step.kind === 'service-kill' || f.step.kind === 'service-term');
  const untouched = history.faults.filter((f) => !f.effect);
  const excused = untouched.filter((f) => serviceDown.some((d) => d !== f && d.startedAt <= f.healedAt && d.healedAt >= f.startedAt));
  for (const f of excused) notes.push(`${f.label} touched nothing: the service was stopped meanwhile`);
  add(
    'every fault took effect',
    untouched.filter((f) => !excused.includes(f)).map((f) => `${f.label} touched nothing: the run did not test it`),
  );
  for (const [name, violations] of Object.entries(expectations(history))) add(name, violations);
  if (plan.maxRefusedWinners !== undefined) {
    add(
      'the rebuild after the Redis loss waited for the pipeline',
      redisLostWinners > plan.maxRefusedWinners ? [`${redisLostWinners} winners (202) ended FAILED by MySQL's guard (at most ${plan.maxRefusedWinners})`] : [],
    );
  }

  if (Object.keys(breaches).length > 0) notes.push(`documented weaker forms (Redis lost data): ${JSON.stringify(breaches)}`);
  const gaveUp = clicks.filter((c) => !c.final).length;
  notes.push(
    `sale: stock ${plan.sale.stock}, buyers ${crowd.arrived}, clicks ${clicks.length} (${gaveUp} gave up retrying), distinct 202 ${accepted.size}, ` +
      `final MySQL available/locked/sold ${history.final.available}/${history.final.locked}/${history.final.sold}, Redis remaining ${history.final.redisRemaining}, sold out seen ${history.soldOutSeen}`,
  );
  if (recoveries.length > 0) notes.push(`recovery per fault: ${recoveries.map((r) => `${r.kind} ${r.ms} ms${r.alone ? '' : ' (another fault under way)'}`).join(', ')}`);
  return { checks, failed: checks.filter((c) => c.violations.length > 0), notes, recoveryMs, settleMs, recoveries, breaches };
}

/**
 * A named regression may ask that the crowd really crossed its fault: requestIds answered 202
 * before it and sent again after it (their answer must survive), users at limitPerUser before it
 * who tried again after it (their count must survive). Without them the run could not have caught
 * a gate that forgot answers or counts.
 */
function expectations(history: RunHistory): Record<string, string[]> {
  if (!history.plan.expectStraddle) return {};
  const first = history.faults[0];
  if (!first) return {};
  const { replays, atLimitTriedAgain } = straddling(history, first.startedAt, first.healedAt);
  return {
    'the crowd crossed the fault': [
      ...(replays === 0 ? ['no requestId answered 202 before the fault was sent again after it'] : []),
      ...(atLimitTriedAgain === 0 ? ['no user at the limit before the fault tried again after it'] : []),
    ],
  };
}

export function straddling(history: RunHistory, from: number, to: number): { replays: number; atLimitTriedAgain: number } {
  const byRequest = new Map<string, Answer[]>();
  const byUser = new Map<string, Array<{ requestId: string; answers: Answer[] }>>();
  for (const click of history.crowd.clicks) {
    byRequest.set(keyOf(click), [...(byRequest.get(keyOf(click)) ?? []), ...click.answers]);
    byUser.set(click.userId, [...(byUser.get(click.userId) ?? []), { requestId: click.requestId, answers: click.answers }]);
  }
  let replays = 0;
  for (const list of byRequest.values()) {
    if (list.some((a) => a.status === 202 && a.doneAt < from) && list.some((a) => a.sentAt > to)) replays++;
  }
  let atLimitTriedAgain = 0;
  for (const clicks of byUser.values()) {
    const wonBefore = new Set(clicks.flatMap((c) => c.answers.filter((a) => a.status === 202 && a.doneAt < from).map((a) => a.orderId)));
    if (wonBefore.size < history.plan.sale.limitPerUser) continue;
    const wonRequests = new Set(clicks.filter((c) => c.answers.some((a) => a.status === 202 && a.doneAt < from)).map((c) => c.requestId));
    if (clicks.some((c) => !wonRequests.has(c.requestId) && c.answers.some((a) => a.sentAt > to))) atLimitTriedAgain++;
  }
  return { replays, atLimitTriedAgain };
}

function readLog(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}
