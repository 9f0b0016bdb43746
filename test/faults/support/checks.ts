/**
 * After a fault: the promises of API.md checked against MySQL and the suite's Redis (through the
 * demo's promise checker, src/demo/promises.ts) and against every answer the crowd got. Each check
 * is named and explains itself with numbers; a failing run prints all of them and the tail of the
 * service's output, so whoever fixes it sees what broke and what the service said meanwhile.
 */
import assert from 'node:assert/strict';
import { checkPromises, type PromiseResult } from '../../../src/demo/promises.ts';
import { MYSQL_SERVER } from '../../support/env.ts';
import type { Answer, Click } from './crowd.ts';
import type { Harness, SaleRun } from './harness.ts';
import type { OrderRow } from './truth.ts';

export interface CheckOptions {
  /** Purchases must succeed again within this long after the fault ended. */
  recoveryBoundMs?: number;
  /** /readyz must have answered something other than 200 at least once in this window (epoch ms). */
  notReadyWithin?: { from: number; to: number; why: string };
  /** Extra checks of one fault (name → violations). */
  extra?: Record<string, string[]>;
}

export interface Check {
  name: string;
  violations: string[];
}

/** Returns units to sale: a cancellation, or a FAILED order whose units were given back. */
const returnsUnits = (order: OrderRow) => order.status === 'CANCELLED' || (order.status === 'FAILED' && order.reason !== 'OUT_OF_STOCK');
/** How far apart the service's clock (written into MySQL) and the arrival of an answer may be. */
const CLOCK_SLACK_MS = 2000;
const EXPECTED = new Set(['202', '409 SOLD_OUT', '409 LIMIT_EXCEEDED', '503 BUSY', '429 RATE_LIMITED', '0']);

const keyOf = (c: { userId: string; requestId: string }) => `${c.userId}|${c.requestId}`;
const outcome = (a: Answer) => (a.status === 202 || a.status === 0 ? String(a.status) : `${a.status} ${a.code ?? '?'}`);

export async function checkRun(harness: Harness, run: SaleRun, options: CheckOptions = {}): Promise<void> {
  const rel = (at: number) => `${((at - run.startedAt) / 1000).toFixed(1)}s`;
  const clicks = run.crowd.clicks;
  const answers = run.crowd.answers();
  const accepted = run.crowd.accepted();
  const truth = await harness.truth(run.activityId);
  let orders: Map<string, OrderRow>;
  try {
    orders = await truth.orders();
  } finally {
    await truth.close();
  }

  // One requestId, one answer: never two order ids; never "you won" and then "you lost".
  const idsByRequest = new Map<string, Set<string>>();
  const finalsByRequest = new Map<string, Set<string>>();
  const firstSentByRequest = new Map<string, number>();
  for (const click of clicks) {
    const key = keyOf(click);
    const first = click.answers[0]?.sentAt;
    if (first !== undefined) firstSentByRequest.set(key, Math.min(firstSentByRequest.get(key) ?? Infinity, first));
    for (const a of click.answers) {
      if (a.status === 202 && a.orderId) idsByRequest.set(key, (idsByRequest.get(key) ?? new Set()).add(a.orderId));
    }
    if (click.final) finalsByRequest.set(key, (finalsByRequest.get(key) ?? new Set()).add(outcome(click.final)));
  }
  const mismatches = [...idsByRequest].filter(([, ids]) => ids.size > 1);
  const wonThenLost = [...finalsByRequest].filter(([key, finals]) => idsByRequest.has(key) && [...finals].some((f) => f !== '202'));
  const lostThenWon = [...finalsByRequest].filter(([key, finals]) => finals.has('202') && [...finals].some((f) => f !== '202') && !wonThenLost.some(([k]) => k === key));

  const promises = await checkPromises({
    mysqlUrl: `${MYSQL_SERVER}/${harness.database}`,
    redisUrl: harness.redisUrl,
    redisPrefix: harness.redisPrefix,
    activityId: run.activityId,
    accepted,
    idempotencyMismatches: mismatches.length,
    expectFullySold: true,
  });
  const promise = (id: PromiseResult['id']) => promises.find((p) => p.id === id)!;

  const checks: Check[] = [];
  const add = (name: string, violations: string[]) => checks.push({ name, violations });

  add('promise 1: never oversell', promise(1).violations);
  add('promise 3: nobody over limitPerUser', promise(3).violations);
  add('promise 4: every 202 id reaches MySQL, none twice', promise(4).violations);

  // Every winner is an order, or FAILED with its units back — and a transient fault is no poison.
  {
    const v: string[] = [];
    const failedBy = new Map<string, number>();
    for (const [id] of accepted) {
      const order = orders.get(id);
      if (!order) continue; // promise 4 says so
      if (order.status === 'FAILED') failedBy.set(order.reason ?? '?', (failedBy.get(order.reason ?? '?') ?? 0) + 1);
      else if (order.status !== 'PENDING_PAYMENT' && order.status !== 'PAID') v.push(`202 order ${id} is ${order.status} ${order.reason ?? ''}, though nobody cancelled or paid`);
    }
    const outOfStock = failedBy.get('OUT_OF_STOCK') ?? 0;
    if (outOfStock > 0) v.push(`${outOfStock} winners (202) FAILED OUT_OF_STOCK: Redis sold units MySQL never had`);
    const overLimit = failedBy.get('LIMIT_EXCEEDED') ?? 0;
    if (overLimit > 0) v.push(`${overLimit} winners (202) FAILED LIMIT_EXCEEDED: the Redis gate let users past limitPerUser (promise 3 is enforced in Redis too)`);
    const deadLettered = failedBy.get('DEAD_LETTERED') ?? 0;
    if (deadLettered > 0) v.push(`${deadLettered} winners (202) were dead-lettered (FAILED DEAD_LETTERED) by a transient fault`);
    add('every 202 is an order (or FAILED, units returned); none dead-lettered', v);
    if (failedBy.size > 0) console.log(`note: 202 answers that ended FAILED, by reason: ${JSON.stringify(Object.fromEntries(failedBy))}`);
  }

  add(
    'one requestId, one answer',
    [
      ...mismatches.slice(0, 10).map(([key, ids]) => `${key} was answered ${ids.size} order ids: ${[...ids].join(', ')}`),
      ...(mismatches.length > 10 ? [`… ${mismatches.length} in all`] : []),
      ...wonThenLost.slice(0, 10).map(([key, finals]) => `${key} was answered 202 and also ${[...finals].filter((f) => f !== '202').join(', ')}`),
      ...(wonThenLost.length > 10 ? [`… ${wonThenLost.length} winners told otherwise in all`] : []),
    ],
  );
  if (lostThenWon.length > 0) console.log(`note: ${lostThenWon.length} requestIds were refused and later answered 202 (a forgotten refusal), e.g. ${lostThenWon[0]?.[0]}`);

  // Answers: no 500s, a Retry-After on every 503, nothing but the codes a purchase may answer.
  {
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(outcome(a), (counts.get(outcome(a)) ?? 0) + 1);
    const fiveHundreds = [...counts].filter(([o]) => o.startsWith('5') && !o.startsWith('503'));
    add('no 5xx but 503', fiveHundreds.map(([o, n]) => `${n} × ${o}`));
    const bare503 = answers.filter((a) => a.status === 503 && !a.retryAfter);
    add('every 503 carries Retry-After', bare503.length > 0 ? [`${bare503.length} of ${counts.get('503 BUSY') ?? 0} 503 answers had no Retry-After`] : []);
    const unexpected = [...counts].filter(([o]) => !EXPECTED.has(o) && !(o.startsWith('5') && !o.startsWith('503')));
    add('only the answers a purchase may give', unexpected.map(([o, n]) => `${n} × ${o}`));
    console.log(`answers: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
  }

  // No unit stranded: with buyers still coming, everything ends up in an order.
  {
    const v = [...promise(2).violations];
    if (run.final.redisRemaining !== 0) v.push(`Redis remaining is ${run.final.redisRemaining} after the drain (MySQL available ${run.final.available})`);
    if (!run.drained) v.push('the order pipeline did not drain within the bound (reservations in flight or 202 ids missing in MySQL)');
    if (v.length > 0) v.push(`(buyers left over: ${run.crowd.leftOver}; buyers stopped because sold out: ${run.soldOutSeen})`);
    add('no unit stranded once the fault is over', v);
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
            `last false one at ${rel(falseOnes[falseOnes.length - 1]!.at)} (fault ${rel(run.faultStartAt)}–${rel(run.faultEndAt)})`,
          ]
        : [],
    );
  }

  // Recovery: time from the end of the fault to the first purchase that succeeded after it.
  {
    const after = answers.filter((a) => a.status === 202 && a.sentAt >= run.faultEndAt).map((a) => a.doneAt);
    const recoveredAt = after.length > 0 ? Math.min(...after) : undefined;
    const wins = answers.filter((a) => a.status === 202).map((a) => a.doneAt);
    const lastBefore = Math.max(...wins.filter((at) => at <= run.faultStartAt), run.startedAt);
    const bound = options.recoveryBoundMs ?? 30_000;
    const v: string[] = [];
    const soldBeforeEnd = run.soldOutSeen && after.length === 0 && wins.every((at) => at < run.faultEndAt);
    if (recoveredAt === undefined && !soldBeforeEnd) v.push('no purchase succeeded after the fault');
    else if (recoveredAt !== undefined && recoveredAt - run.faultEndAt > bound) v.push(`purchases succeeded again only ${recoveredAt - run.faultEndAt} ms after the fault (bound ${bound} ms)`);
    add('purchases succeed again after the fault', v);
    const during = answers.filter((a) => a.status === 202 && a.sentAt > run.faultStartAt && a.sentAt < run.faultEndAt).length;
    console.log(
      `recovery: fault ${rel(run.faultStartAt)}–${rel(run.faultEndAt)}; last 202 before it ${rel(lastBefore)}; ${during} answers 202 to requests sent during it; ` +
        (recoveredAt === undefined ? 'no 202 after it' : `first 202 after it ${rel(recoveredAt)} = ${recoveredAt - run.faultEndAt} ms after the fault ended, ${recoveredAt - run.faultStartAt} ms after it began`),
    );
  }

  // Readiness.
  {
    const v: string[] = [];
    const window = options.notReadyWithin;
    if (window && !run.readiness.some((s) => s.at >= window.from && s.at <= window.to && s.status !== 200)) {
      v.push(`/readyz answered 200 all along from ${rel(window.from)} to ${rel(window.to)} (${window.why})`);
    }
    const last = run.readiness[run.readiness.length - 1];
    if (!last || last.status !== 200) v.push(`/readyz answers ${last?.status ?? 'nothing'} at the end, after recovery`);
    else if (!run.drained) v.push('/readyz answers 200 at the end, though the order pipeline did not drain (is the order consumer consuming?)');
    add('readiness tells the truth', v);
    const flips: string[] = [];
    let previous = -1;
    for (const s of run.readiness) {
      if (s.status !== previous) flips.push(`${rel(s.at)}:${s.status}`);
      previous = s.status;
    }
    console.log(`readyz: ${flips.join(' ')}`);
  }

  for (const [name, violations] of Object.entries(options.extra ?? {})) add(name, violations);
  const across = straddling(run);
  console.log(`across the fault: ${across.replays} requestIds answered 202 before it were sent again after it; ${across.atLimitTriedAgain} users at limitPerUser before it tried again after it`);

  const gaveUp = clicks.filter((c) => !c.final).length;
  console.log(
    `sale: stock ${run.shape.stock}, buyers arrived ${run.crowd.arrived} (left over ${run.crowd.leftOver}), clicks ${clicks.length} (${gaveUp} gave up retrying), ` +
      `distinct 202 ${accepted.size}, final MySQL available/locked/sold ${run.final.available}/${run.final.locked}/${run.final.sold}, Redis remaining ${run.final.redisRemaining}, ` +
      `sold out seen ${run.soldOutSeen}, drained ${run.drained}; marks: ${run.marks.map((m) => `${m.label}@${rel(m.at)}`).join(', ') || 'none'}`,
  );
  for (const c of checks) console.log(`${c.violations.length === 0 ? 'ok  ' : 'FAIL'} ${c.name}${c.violations.length ? `\n       ${c.violations.join('\n       ')}` : ''}`);

  const failed = checks.filter((c) => c.violations.length > 0);
  if (failed.length > 0) {
    const warnings = harness.service
      .grep('"level":')
      .filter((line) => /"level":(40|50|60)/.test(line))
      .slice(-25)
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
      .join('\n');
    assert.fail(
      `${failed.length} check(s) failed: ${failed.map((c) => c.name).join('; ')}\n` +
        `${failed.map((c) => `- ${c.name}: ${c.violations.join(' | ')}`).join('\n')}\n` +
        `--- service warnings/errors (last 25) ---\n${warnings}\n--- service output (tail) ---\n${harness.service
          .tail(30)
          .split('\n')
          .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
          .join('\n')}\n(full log: ${harness.service.logFile})`,
    );
  }
}

/**
 * How much of the crowd's behaviour crossed the fault: requestIds answered 202 before it and sent
 * again after it (their answer must survive), and users at limitPerUser before it who tried again
 * after it (their count must survive). A fault test that wants these to hold asserts they happened.
 */
export function straddling(run: SaleRun): { replays: number; atLimitTriedAgain: number } {
  const byRequest = new Map<string, Answer[]>();
  const byUser = new Map<string, Array<{ requestId: string; answers: Answer[] }>>();
  for (const click of run.crowd.clicks) {
    byRequest.set(keyOf(click), [...(byRequest.get(keyOf(click)) ?? []), ...click.answers]);
    byUser.set(click.userId, [...(byUser.get(click.userId) ?? []), { requestId: click.requestId, answers: click.answers }]);
  }
  let replays = 0;
  for (const list of byRequest.values()) {
    if (list.some((a) => a.status === 202 && a.doneAt < run.faultStartAt) && list.some((a) => a.sentAt > run.faultEndAt)) replays++;
  }
  let atLimitTriedAgain = 0;
  for (const clicks of byUser.values()) {
    const wonBefore = new Set(clicks.flatMap((c) => c.answers.filter((a) => a.status === 202 && a.doneAt < run.faultStartAt).map((a) => a.orderId)));
    if (wonBefore.size < run.shape.limitPerUser) continue;
    const wonRequests = new Set(clicks.filter((c) => c.answers.some((a) => a.status === 202 && a.doneAt < run.faultStartAt)).map((c) => c.requestId));
    if (clicks.some((c) => !wonRequests.has(c.requestId) && c.answers.some((a) => a.sentAt > run.faultEndAt))) atLimitTriedAgain++;
  }
  return { replays, atLimitTriedAgain };
}
