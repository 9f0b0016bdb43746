/**
 * The words of the report, shared by report.html and the demo's closing lines on the terminal:
 * formatted numbers, human names for outcome codes, the summary sentence and one plain-language
 * verdict per promise. The JSON keeps the raw names; people read these.
 */
import type { PromiseResult } from './promises.ts';
import type { DemoReport } from './report-model.ts';

/** 20000 → "20,000"; 3.14159 → "3.1" (digits as given). */
export function fmt(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const seconds = (s: number | null | undefined) => (s === null || s === undefined ? '–' : `${fmt(s, s < 10 ? 1 : 0)} s`);
/** Milliseconds with a decimal only where it matters (below 10 ms). */
export const msNumber = (v: number) => fmt(v, v < 10 ? 1 : 0);
export const ms = (v: number) => `${msNumber(v)} ms`;
export const plural = (n: number, one: string, many = `${one}s`) => `${fmt(n)} ${n === 1 ? one : many}`;

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five'];
const words = (n: number) => NUMBER_WORDS[n] ?? fmt(n);

/** Human names of the purchase answers the crowd saw (codes from docs/api.md). */
const OUTCOMES: Record<string, string> = {
  ACCEPTED: 'Accepted: order queued (202)',
  SOLD_OUT: 'Sold out (409)',
  LIMIT_EXCEEDED: 'Already holds the per-user limit (409)',
  RATE_LIMITED: 'Too many attempts, rate-limited (429)',
  BUSY: 'Shed under load, retry later (503)',
  NOT_STARTED: 'Sale not started yet (403)',
  ENDED: 'Sale ended (403)',
  CHALLENGE_REQUIRED: 'Anti-bot challenge missing (403)',
  CHALLENGE_FAILED: 'Anti-bot challenge failed (403)',
  UNAUTHORIZED: 'Not signed in (401)',
  INVALID_REQUEST: 'Invalid request (400)',
  NOT_FOUND: 'Activity not found (404)',
  NETWORK_ERROR: 'No answer (network error)',
  ALL: 'All answers',
};

/** Short names, for narrow columns and chart legends. */
const SHORT_OUTCOMES: Record<string, string> = {
  ACCEPTED: 'Accepted (202)',
  SOLD_OUT: 'Sold out (409)',
  LIMIT_EXCEEDED: 'Over limit (409)',
  RATE_LIMITED: 'Rate-limited (429)',
  BUSY: 'Shed (503)',
  NETWORK_ERROR: 'No answer',
  ALL: 'All answers',
};

export function outcomeShort(code: string): string {
  return SHORT_OUTCOMES[code] ?? outcomeLabel(code);
}

export function outcomeLabel(code: string): string {
  const http = /^HTTP_(\d+)$/.exec(code);
  return OUTCOMES[code] ?? (http ? `HTTP ${http[1]} without an error code` : code);
}

const n = (p: PromiseResult, key: string) => Number(p.numbers[key] ?? 0);

/** Plain-language name of each promise (docs/api.md, "The promises"). */
export const PROMISE_TITLES: Record<PromiseResult['id'], string> = {
  1: 'Never oversell',
  2: 'Never leave a unit unsold without cause',
  3: 'Nobody holds more than the per-user limit',
  4: 'Every accepted order reaches the database, exactly once',
  5: 'Unpaid orders expire and their units go back on sale',
};

/** One or two sentences saying what was checked and what was found, in words. */
export function promiseEvidence(p: PromiseResult): string {
  if (!p.checked) return `Not checked in this run: ${String(p.numbers['reason'] ?? 'not applicable')}.`;
  switch (p.id) {
    case 1: {
      const back = n(p, 'cancelledUnits') + n(p, 'failedReturnedUnits');
      return (
        `MySQL balances: ${fmt(n(p, 'available'))} available + ${fmt(n(p, 'locked'))} awaiting payment + ${fmt(n(p, 'sold'))} sold = ` +
        `${fmt(n(p, 'stock'))} units in stock, none negative. ${plural(n(p, 'distinctAccepted'), 'order')} were accepted against ` +
        `${fmt(n(p, 'unitsEverOnSale'))} units ever on sale (the stock plus ${fmt(back)} that came back from cancelled or failed orders).`
      );
    }
    case 2:
      return `${fmt(n(p, 'inOrders'))} of ${fmt(n(p, 'stock'))} units ended up in orders; ${fmt(n(p, 'available'))} left unsold and ${fmt(n(p, 'redisInFlight'))} reservations still in flight once the queue had drained.`;
    case 3: {
      const limit = n(p, 'limitPerUser');
      return (
        `The limit is ${plural(limit, 'unit')} per buyer. The most any buyer holds is ${fmt(n(p, 'maxUnitsPerUserMysql'))} in MySQL and ` +
        `${fmt(n(p, 'maxUnitsPerUserRedis'))} in Redis (${plural(n(p, 'usersCheckedInRedis'), 'buyer counter')} read).`
      );
    }
    case 4:
      return (
        `All ${plural(n(p, 'accepted'), 'accepted order')} were looked up in MySQL: ${fmt(n(p, 'missing'))} missing, ${fmt(n(p, 'duplicates'))} created twice, ` +
        `${fmt(n(p, 'idempotencyMismatches'))} retries answered a different order id; ${fmt(n(p, 'failed'))} ended FAILED with their units returned.`
      );
    case 5:
      return (
        `${fmt(n(p, 'expiredByTimeout'))} of the ${plural(n(p, 'leftUnpaid'), 'order')} left unpaid on purpose expired, at most ` +
        `${ms(n(p, 'maxExpiryLatenessMs'))} after their deadline (allowed: ${ms(n(p, 'graceMs'))}); ${fmt(n(p, 'paidThenCancelled'))} of ` +
        `${plural(n(p, 'seenPaid'), 'paid order')} were cancelled afterwards, ${fmt(n(p, 'overduePending'))} unpaid orders are overdue.`
      );
  }
}

export function verdict(p: PromiseResult): 'held' | 'violated' | 'not checked' {
  return !p.checked ? 'not checked' : p.held ? 'held' : 'violated';
}

/** "1,000 units sold out to 20,000 buyers in 3.2 s; all five promises held." */
export function summarySentence(r: DemoReport): string {
  const units = Number(r.options['units']);
  const buyers = Number(r.options['buyers']);
  const sale =
    r.timeToSellOutSeconds !== null
      ? `${fmt(units)} units sold out to ${fmt(buyers)} buyers in ${seconds(r.timeToSellOutSeconds)}`
      : `${fmt(r.outcomes['ACCEPTED'] ?? 0)} orders accepted for ${fmt(units)} units from ${fmt(buyers)} buyers, without selling out`;
  const checked = r.promises.filter((p) => p.checked);
  const violated = checked.filter((p) => !p.held);
  let promises: string;
  if (violated.length > 0) {
    promises = `VIOLATED: ${violated.map((p) => `promise ${p.id} (${PROMISE_TITLES[p.id].toLowerCase()})`).join(', ')}`;
  } else if (checked.length === r.promises.length) {
    promises = `all ${words(checked.length)} promises held`;
  } else {
    const skipped = r.promises.filter((p) => !p.checked).map((p) => p.id);
    promises = `the ${words(checked.length)} promises checked held (not checked: ${skipped.map((id) => `#${id}`).join(', ')})`;
  }
  return `${sale}; ${promises}.`;
}

/** What happened after the sale, in one sentence (empty when the payment phase did not run). */
export function aftermathSentence(r: DemoReport): string {
  const p = r.payment;
  if (!p.ran) return p.skippedBecause ? `No payment phase: ${p.skippedBecause}.` : '';
  const w = p.waitlist;
  const resold = p.rebought + w.purchasedFromOffer;
  return (
    `Every order was in MySQL ${seconds(r.timeToDrainSeconds)} after the start. Then ${fmt(p.paid)} orders were paid, ` +
    `${fmt(p.timedOut)} expired unpaid, ${fmt(p.cancelledByUser)} were cancelled and ${fmt(p.paymentFailed)} payments failed; ` +
    `${plural(resold, 'returned unit')} sold again, ${fmt(w.purchasedFromOffer)} of them to ${plural(w.joined, 'waitlisted buyer')}.`
  );
}

export function bytes(b: number): string {
  return `${fmt(b / 1024 ** 3, 1)} GiB`;
}
