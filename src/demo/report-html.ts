/**
 * report.html: what a team shows after the sale. The verdict and one summary sentence first, the
 * key figures, each promise in words with its evidence, charts with the phases marked, then the
 * tables (human labels, formatted numbers, never raw JSON) and the machine and commit it ran on.
 * Self-contained (no script, no network) and readable from a 390 px phone to a desktop: nothing
 * is wider than the page; wide content wraps or reflows.
 */
import { COLORS, esc, lineChart, type Marker } from './charts.ts';
import type { ProgressSample } from './progress.ts';
import type { PromiseResult } from './promises.ts';
import type { DemoReport, LatencySummary } from './report-model.ts';
import {
  aftermathSentence,
  bytes,
  fmt,
  ms,
  msNumber,
  outcomeLabel,
  outcomeShort,
  PROMISE_TITLES,
  promiseEvidence,
  seconds,
  summarySentence,
  verdict,
} from './report-text.ts';

/** Human names of the promise checker's figures (report.json keeps the raw keys). */
const NUMBER_LABELS: Record<string, string> = {
  stock: 'Units in stock',
  available: 'Available (MySQL)',
  locked: 'Awaiting payment (MySQL locked)',
  sold: 'Sold (MySQL)',
  pendingUnits: 'Units in orders awaiting payment',
  paidUnits: 'Units in paid orders',
  cancelledUnits: 'Units in cancelled orders',
  failedOutOfStockUnits: 'Accepted, then refused by MySQL (no stock)',
  failedReturnedUnits: 'Units returned by failed orders',
  distinctAccepted: 'Distinct accepted order ids',
  unitsEverOnSale: 'Units ever on sale',
  redisRemaining: 'Left on sale in Redis',
  redisInFlight: 'Reservations in flight (Redis)',
  inOrders: 'Units in orders',
  limitPerUser: 'Per-user limit',
  redisShards: 'Redis shards of the stock',
  maxUnitsPerUserMysql: 'Most units one buyer holds (MySQL)',
  maxUnitsPerUserRedis: 'Most units one buyer holds (Redis)',
  usersCheckedInRedis: 'Buyer counters read in Redis',
  accepted: 'Accepted orders (202)',
  inMysql: 'Orders in MySQL',
  missing: 'Accepted but missing in MySQL',
  failed: 'Orders FAILED (units returned)',
  duplicates: 'Requests that became two orders',
  idempotencyMismatches: 'Retries answered a different order',
  ordersNotSeenAs202: 'Orders whose 202 no buyer saw',
  leftUnpaid: 'Orders left unpaid on purpose',
  expiredByTimeout: 'Expired by the payment timeout',
  maxExpiryLatenessMs: 'Latest expiry after its deadline (ms)',
  graceMs: 'Allowed lateness (ms)',
  overduePending: 'Unpaid orders past their deadline',
  seenPaid: 'Orders seen paid',
  paidThenCancelled: 'Paid, then cancelled',
  cancelledOrders: 'Cancelled orders',
};

function value(v: number | string | boolean | null | undefined): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return fmt(v, Number.isInteger(v) ? 0 : 1);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return esc(v);
}

/** A two-column table of label → already formatted (and escaped) value. */
function facts(rows: Array<[string, string]>, caption?: string): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td class="num">${v}</td></tr>`).join('');
  return `<table class="facts">${caption ? `<caption>${esc(caption)}</caption>` : ''}${body}</table>`;
}

function promiseCard(p: PromiseResult): string {
  const v = verdict(p);
  const cls = v === 'held' ? 'ok' : v === 'violated' ? 'bad' : 'skip';
  const mark = v === 'held' ? '✔' : v === 'violated' ? '✘' : '–';
  const numbers = Object.entries(p.numbers)
    .filter(([k]) => k !== 'reason')
    .map(([k, n]): [string, string] => [NUMBER_LABELS[k] ?? k, value(n)]);
  const violations = p.violations.length > 0 ? `<ul class="violations">${p.violations.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : '';
  return (
    `<article class="promise ${cls}"><h3><span class="mark" aria-hidden="true">${mark}</span> ${p.id}. ${esc(PROMISE_TITLES[p.id])}` +
    ` <span class="verdict-word">${v}</span></h3><p>${esc(promiseEvidence(p))}</p>${violations}` +
    (numbers.length > 0 ? `<details><summary>The figures checked</summary>${facts(numbers)}</details>` : '') +
    '</article>'
  );
}

function figure(label: string, v: string, note = ''): string {
  return `<div class="figure"><span>${esc(label)}</span><b>${v}</b>${note ? `<small>${esc(note)}</small>` : ''}</div>`;
}

/** Percentiles on a "nines" axis (0, 90, 99, 99.9, …) so the tail is readable. */
const nines = (p: number) => (p >= 100 ? 5 : -Math.log10(1 - p / 100));

function latencyTable(latency: Record<string, LatencySummary>): string {
  const head = '<tr><th scope="col">Answer</th><th class="num" scope="col">Count</th><th class="num" scope="col">p50</th><th class="num" scope="col">p99</th><th class="num" scope="col">p99.9</th><th class="num" scope="col">max</th></tr>';
  const order = Object.entries(latency).sort(([a], [b]) => (a === 'ALL' ? 1 : b === 'ALL' ? -1 : (latency[b]?.count ?? 0) - (latency[a]?.count ?? 0)));
  const rows = order
    .map(
      ([code, l]) =>
        `<tr${code === 'ALL' ? ' class="total"' : ''}><th scope="row">${esc(outcomeShort(code))}</th><td class="num">${fmt(l.count)}</td>` +
        `<td class="num">${msNumber(l.p50Ms)}</td><td class="num">${msNumber(l.p99Ms)}</td><td class="num">${msNumber(l.p999Ms)}</td><td class="num">${msNumber(l.maxMs)}</td></tr>`,
    )
    .join('');
  return `<table class="grid"><caption>Purchase latency in milliseconds, as the buyers measured it</caption>${head}${rows}</table>`;
}

function outcomesTable(outcomes: Record<string, number>): string {
  const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
  const rows = Object.entries(outcomes)
    .sort(([, a], [, b]) => b - a)
    .map(([code, count]) => `<tr><th scope="row">${esc(outcomeLabel(code))}</th><td class="num">${fmt(count)}</td><td class="num">${fmt((count / (total || 1)) * 100, 1)}%</td></tr>`)
    .join('');
  return (
    '<table class="grid"><caption>What the buyers were answered</caption>' +
    `<tr><th scope="col">Answer</th><th class="num" scope="col">Requests</th><th class="num" scope="col">Share</th></tr>${rows}` +
    `<tr class="total"><th scope="row">All purchase requests</th><td class="num">${fmt(total)}</td><td class="num">100%</td></tr></table>`
  );
}

function aftermathTable(r: DemoReport): string {
  const p = r.payment;
  if (!p.ran) return `<p>${esc(p.skippedBecause ? `The payment phase did not run: ${p.skippedBecause}.` : 'The payment phase did not run.')}</p>`;
  const w = p.waitlist;
  const refusedOther = Object.entries(w.refusedOther).map(([code, count]) => `${fmt(count)} ${code}`).join(', ');
  return (
    facts(
      [
        ['Orders paid', fmt(p.paid)],
        ['Payments that failed (units back on sale)', fmt(p.paymentFailed)],
        ['Orders cancelled by their buyer', fmt(p.cancelledByUser)],
        ['Orders left unpaid on purpose', fmt(p.unpaid)],
        ['… of which expired by the payment timeout', fmt(p.timedOut)],
        ['Returned units bought on open sale', fmt(p.rebought)],
        ['Time until nothing was left to sell or pay', seconds(p.secondsUntilStable)],
      ],
      'Payment phase',
    ) +
    facts(
      [
        ['Sold-out buyers sent to the waitlist', fmt(w.target)],
        ['Joined', fmt(w.joined)],
        ['Refused: units were back on sale (NOT_SOLD_OUT)', fmt(w.refusedNotSoldOut)],
        ...(refusedOther ? [['Refused otherwise', esc(refusedOther)] as [string, string]] : []),
        ['Offered a returned unit', fmt(w.offered)],
        ['Bought with their offer', fmt(w.purchasedFromOffer)],
        ['Offers left to run out on purpose', fmt(w.offersIgnored)],
        ['Offers seen expired (passed on)', fmt(w.expired)],
        ['Still waiting at the end', fmt(w.stillWaiting)],
      ],
      'Waitlist',
    )
  );
}

function waitingRoomTable(r: DemoReport): string {
  const q = r.waitingRoom;
  if (!q) return '';
  const f = q.fairness;
  const fairness =
    f.spearman === null
      ? `not checked (${fmt(f.prequeue)} pre-queue tickets read)`
      : `ρ = ${f.spearman} over ${fmt(f.prequeue)} pre-queue tickets, |ρ| < ${f.limit}: ${f.uniform ? 'uniform' : 'NOT uniform'}`;
  const wait = q.waitSeconds;
  return `<h2>The waiting room</h2><div class="tables">${facts(
    [
      ['Buyers who joined the line', fmt(q.joined)],
      ['… before the start (the pre-queue, shuffled at the start)', fmt(q.prequeue)],
      ['Admitted with a pass', fmt(q.admitted)],
      ['Told early that no unit was left for them', fmt(q.learnedEarlyNoChance)],
      ['Left when the line stopped (sold out)', fmt(q.leftLineStopped)],
      ['Wait to admission, median / 90th / max', wait ? `${wait.p50.toFixed(1)} s / ${wait.p90.toFixed(1)} s / ${wait.max.toFixed(1)} s` : '–'],
      ['Fairness: Spearman ρ(join order, place in line)', esc(fairness)],
      ['Bots that skipped the line, refused (PASS_REQUIRED answers)', fmt(r.outcomes['PASS_REQUIRED'] ?? 0)],
    ],
    'Through the line',
  )}</div>`;
}

const OPTION_LABELS: Record<string, [string, (v: unknown) => string]> = {
  units: ['Units on sale', (v) => fmt(Number(v))],
  buyers: ['Buyers', (v) => fmt(Number(v))],
  concurrency: ['Connections from the crowd', (v) => fmt(Number(v))],
  topology: ['Redis and Kafka', (v) => (v === 'cluster' ? '3-master Redis Cluster, 3-broker Kafka' : 'one Redis, one Kafka broker')],
  shards: ['Redis shards of the stock', (v) => fmt(Number(v))],
  segments: ['Stock segments per shard', (v) => fmt(Number(v))],
  limit: ['Per-user limit', (v) => fmt(Number(v))],
  paymentTimeoutSeconds: ['Payment timeout', (v) => seconds(Number(v))],
  antiBot: ['Anti-bot proof of work', (v) => (v ? 'on' : 'off')],
  waitingRoom: ['Waiting room', (v) => (v ? 'random-mode pre-queue' : 'none: the open rush')],
};

function runTable(r: DemoReport): string {
  const options = Object.entries(OPTION_LABELS)
    .filter(([k]) => k in r.options)
    .map(([k, [label, show]]): [string, string] => [label, esc(show(r.options[k]))]);
  if (r.options['antiBot'] === true) options.push(['Challenge difficulty', `${fmt(Number(r.options['difficulty']))} bits`]);
  const m = r.machine;
  return (
    facts(options, 'The sale') +
    facts(
      [
        ['CPU', esc(m.cpuModel)],
        ['Cores', fmt(m.cores)],
        ['Memory', bytes(m.memoryBytes)],
        ['Operating system', esc(m.os)],
        ['Node.js', esc(m.node)],
        ['Commit', m.commit ? `<code>${esc(m.commit)}</code>${m.commitDirty ? ' with uncommitted changes' : ''}` : 'not a git checkout'],
        ['Database', `<code>${esc(r.service.database)}</code>`],
        ['Redis key / Kafka topic prefix', `<code>${esc(r.service.redisPrefix)}</code>`],
      ],
      'The machine (service, crowd and databases all on it)',
    )
  );
}

const CSS = `:root{--ok:#15803d;--bad:#b91c1c;--muted:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#111827;background:#f3f4f6}
main{max-width:1120px;margin:0 auto;padding:20px 16px 48px;overflow-wrap:anywhere}
h1{font-size:1.45rem;margin:0 0 .5rem}
h2{font-size:1.15rem;margin:2rem 0 .75rem}
h3{font-size:1rem;margin:0 0 .35rem}
p{margin:.4rem 0}
code{font-size:.9em;overflow-wrap:anywhere}
.verdict{border-radius:10px;padding:14px 18px;background:#ecfdf5;border:1px solid #a7f3d0}
.verdict.bad{background:#fef2f2;border-color:#fecaca}
.verdict .lead{font-size:1.2rem;font-weight:650;margin:0 0 .3rem}
.meta{color:var(--muted);font-size:.9rem}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,158px),1fr));gap:10px;margin-top:16px}
.figure{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.figure span{display:block;color:var(--muted);font-size:.82rem}
.figure b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}
.figure small{color:var(--muted)}
.promises{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,480px),1fr));gap:10px}
.promise{background:#fff;border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:8px;padding:10px 14px}
.promise.bad{border-left-color:var(--bad);background:#fff7f7}
.promise.skip{border-left-color:#9ca3af}
.promise .mark{color:var(--ok)}.promise.bad .mark{color:var(--bad)}.promise.skip .mark{color:#9ca3af}
.verdict-word{font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--ok);margin-left:.3rem}
.promise.bad .verdict-word{color:var(--bad)}.promise.skip .verdict-word{color:var(--muted)}
.violations{color:var(--bad);margin:.3rem 0;padding-left:1.2rem}
details summary{cursor:pointer;color:#1d4ed8;font-size:.9rem;margin-top:.3rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:14px}
figure.chart{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}
figure.chart figcaption{font-weight:650;margin-bottom:4px}
figure.chart svg{width:100%;height:auto;display:block}
.spaced{margin-top:14px}
.aside{color:#374151;font-size:.92rem;align-self:center}
.legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.85rem}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:3px;background:var(--c)}
.swatch.dashed{background:repeating-linear-gradient(90deg,var(--c) 0 5px,transparent 5px 8px)}
.legend.markers{color:#374151}
.badge{display:inline-flex;align-items:center;justify-content:center;width:18px;height:18px;border-radius:50%;background:#374151;color:#fff;font-size:.72rem;font-weight:700}
.tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:14px;align-items:start}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px}
caption{text-align:left;font-weight:650;padding:0 0 6px}
td,th{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}
th[scope=row]{font-weight:normal}
th[scope=col]{font-size:.85rem;color:var(--muted);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts td.num{white-space:normal}
tr.total th,tr.total td{font-weight:650}
details table{margin-top:6px}
ul.notes{padding-left:1.2rem}
@media (max-width:520px){body{font-size:14px}main{padding:14px 10px 40px}td,th{padding:5px 6px}.verdict .lead{font-size:1.08rem}
figure.chart svg text.tick{font-size:17px}figure.chart svg text.axis{font-size:17px}}`;

export function renderHtml(r: DemoReport): string {
  const t = (s: ProgressSample) => s.tMs / 1000;
  const markers: Marker[] = r.markers.map((m) => ({ x: m.tMs / 1000, label: `${m.label} (${seconds(m.tMs / 1000)})` }));
  const timeAxis = { xLabel: 'seconds since the sale started', markers };
  const requests = lineChart('Purchase requests per second', [{ name: 'requests/s', color: COLORS[0]!, points: r.timeline.map((s) => [t(s), s.requestsPerSec]) }], {
    ...timeAxis,
    yLabel: 'req/s',
  });
  const units = lineChart(
    'Where the units are',
    [
      { name: 'on sale in Redis', color: COLORS[0]!, points: r.timeline.map((s) => [t(s), s.remaining]) },
      { name: 'available in MySQL', color: COLORS[3]!, points: r.timeline.map((s) => [t(s), s.available]), dashed: true },
      { name: 'awaiting payment', color: COLORS[1]!, points: r.timeline.map((s) => [t(s), s.locked]) },
      { name: 'sold (paid)', color: COLORS[2]!, points: r.timeline.map((s) => [t(s), s.sold]) },
      { name: 'accepted, not yet in MySQL', color: COLORS[4]!, points: r.timeline.map((s) => [t(s), s.queued]) },
    ],
    { ...timeAxis, yLabel: 'units' },
  );
  const latency = lineChart(
    'Latency by answer (percentiles)',
    Object.entries(r.latency)
      .filter(([code, l]) => l.count > 0 && code !== 'ALL')
      .map(([code, l], i) => ({ name: outcomeShort(code), color: COLORS[i % COLORS.length]!, points: l.curve.map(([p, v]): [number, number] => [nines(p), v]) })),
    { xLabel: 'percentile', yLabel: 'ms', xTicks: [[0, '0'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, 'max']] },
  );
  const ok = r.allPromisesHeld;
  const all = r.latency['ALL'];
  const accepted = r.latency['ACCEPTED'];
  const when = new Date(r.startedAt);
  const figures = [
    figure('Sold out after', seconds(r.timeToSellOutSeconds)),
    figure('Buyers', fmt(Number(r.options['buyers'])), `for ${fmt(Number(r.options['units']))} units`),
    figure('Purchase requests', fmt(r.throughput.requests), `${fmt(r.throughput.requestsPerSecond)}/s, peak ${fmt(r.throughput.peakRequestsPerSecond)}/s`),
    figure('Accepted (202) p99', accepted ? ms(accepted.p99Ms) : '–', all ? `all answers p99 ${ms(all.p99Ms)}` : ''),
    figure('All orders in MySQL after', seconds(r.timeToDrainSeconds), r.ordersPersistedPerSecond === null ? '' : `${fmt(r.ordersPersistedPerSecond)} orders/s`),
    figure('Paid orders', fmt(r.payment.paid), r.payment.ran ? `${fmt(r.payment.timedOut)} expired unpaid` : 'no payment phase'),
  ].join('');
  const machine = `${r.machine.cpuModel}, ${r.machine.cores} cores, ${bytes(r.machine.memoryBytes)}, Node.js ${r.machine.node}`;
  const commit = r.machine.commit ? ` · commit ${r.machine.commit}${r.machine.commitDirty ? ' (modified)' : ''}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flash-sale demo: ${esc(ok ? 'all promises held' : 'a promise was violated')}, ${esc(r.startedAt)}</title>
<style>${CSS}</style></head><body><main>
<h1>Flash-sale demo report</h1>
<section class="verdict${ok ? '' : ' bad'}"><p class="lead">${esc(summarySentence(r))}</p><p>${esc(aftermathSentence(r))}</p>
<p class="meta">${esc(when.toUTCString())} · ${esc(machine)}${esc(commit)}</p></section>
<div class="figures">${figures}</div>
<h2>The promises, checked directly against MySQL and Redis</h2>
<div class="promises">${r.promises.map(promiseCard).join('')}</div>
<h2>The sale over time</h2>
<div class="charts">${units}${requests}</div>
<h2>What buyers were answered, and how fast</h2>
<div class="tables">${outcomesTable(r.outcomes)}${latencyTable(r.latency)}</div>
<div class="charts spaced">${latency}<div class="aside"><p>Each line is one kind of answer: how long buyers waited for it, from the fastest (0) through the
median and the slow tail (99th, 99.9th percentile) to the slowest (max). Time includes queueing in the crowd's own
${fmt(Number(r.options['concurrency']))} connections, on the same machine as the service.</p></div></div>
${waitingRoomTable(r)}
<h2>After the sale: payments, timeouts and the waitlist</h2>
<div class="tables">${aftermathTable(r)}</div>
<h2>The run</h2>
<div class="tables">${runTable(r)}</div>
${r.notes.length > 0 ? `<h2>Notes</h2><ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<p class="meta">Every figure above is also in <code>report.json</code> beside this file.</p>
</main></body></html>
`;
}
