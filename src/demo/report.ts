/**
 * report.json (everything, for machines and tests) and report.html (self-contained: inline SVG
 * charts, no script, no network) for people.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import type { ProgressSample } from './progress.ts';
import type { PromiseResult } from './promises.ts';

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** (percentile, ms) points for the distribution chart. */
  curve: Array<[number, number]>;
}

const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100];

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us / 10) / 100;
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    curve: CURVE_PERCENTILES.map((p) => [p, ms(h.getValueAtPercentile(p))]),
  };
}

export interface DemoReport {
  startedAt: string;
  options: Record<string, unknown>;
  service: { url: string; database: string; redisPrefix: string; topicPrefix: string };
  activityId: string;
  outcomes: Record<string, number>;
  throughput: { requests: number; buyingPhaseSeconds: number; requestsPerSecond: number; peakRequestsPerSecond: number };
  latency: Record<string, LatencySummary>;
  timeToSellOutSeconds: number | null;
  timeToDrainSeconds: number | null;
  ordersPersistedPerSecond: number | null;
  peakOrdersPersistedPerSecond: number;
  payment: Record<string, unknown>;
  promises: PromiseResult[];
  allPromisesHeld: boolean;
  timeline: ProgressSample[];
  notes: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], opts: { xTicks?: Array<[number, string]> } = {}): string {
  const W = 720;
  const H = 280;
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 40;
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1e-9, ...all.map((p) => p[0]));
  const minX = Math.min(0, ...all.map((p) => p[0]));
  const maxY = Math.max(1e-9, ...all.map((p) => p[1])) * 1.05;
  const x = (v: number) => L + ((v - minX) / (maxX - minX || 1)) * (W - L - R);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="${W / 2 - R / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 4) * i;
    out.push(`<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end">${v >= 100 ? Math.round(v) : v.toFixed(v >= 10 ? 1 : 2)}</text>`);
  }
  const ticks = opts.xTicks ?? [0, 1, 2, 3, 4].map((i): [number, string] => [minX + ((maxX - minX) / 4) * i, (minX + ((maxX - minX) / 4) * i).toFixed(1)]);
  for (const [v, label] of ticks) out.push(`<text x="${x(v)}" y="${H - B + 14}" text-anchor="middle">${esc(label)}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="12" y="${(T + H - B) / 2}" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    }
    out.push(`<rect x="${W - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${W - R + 24}" y="${T + i * 16 + 9}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

/** Percentiles on a "nines" axis (0, 90, 99, 99.9, …) so the tail is readable. */
const nines = (p: number) => (p >= 100 ? 5 : -Math.log10(1 - p / 100));

export function renderHtml(report: DemoReport): string {
  const t = (s: ProgressSample) => s.tMs / 1000;
  const throughput = lineChart('Throughput over time', 'seconds', 'requests/s', [
    { name: 'requests/s', color: COLORS[0]!, points: report.timeline.map((s) => [t(s), s.requestsPerSec]) },
  ]);
  const units = lineChart('Units over time', 'seconds', 'units', [
    { name: 'Redis remaining', color: COLORS[0]!, points: report.timeline.map((s) => [t(s), s.remaining]) },
    { name: 'MySQL available', color: COLORS[3]!, points: report.timeline.map((s) => [t(s), s.available]) },
    { name: 'MySQL locked', color: COLORS[1]!, points: report.timeline.map((s) => [t(s), s.locked]) },
    { name: 'MySQL sold', color: COLORS[2]!, points: report.timeline.map((s) => [t(s), s.sold]) },
    { name: 'queue lag', color: COLORS[4]!, points: report.timeline.map((s) => [t(s), s.queued]) },
  ]);
  const latency = lineChart(
    'Latency distribution by outcome',
    'percentile',
    'ms',
    Object.entries(report.latency)
      .filter(([, l]) => l.count > 0)
      .map(([name, l], i) => ({ name: `${name} (${l.count})`, color: COLORS[i % COLORS.length]!, points: l.curve.map(([p, ms]): [number, number] => [nines(p), ms]) })),
    { xTicks: [[0, '0'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, 'max']] },
  );
  const rows = (o: Record<string, unknown>) =>
    Object.entries(o)
      .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`)
      .join('');
  const promises = report.promises
    .map(
      (p) =>
        `<tr class="${!p.checked ? 'skip' : p.held ? 'ok' : 'bad'}"><td>${p.id}</td><td>${esc(p.title)}</td><td>${!p.checked ? 'not checked' : p.held ? 'held' : 'VIOLATED'}</td>` +
        `<td>${esc(p.violations.join('; '))}</td><td><code>${esc(JSON.stringify(p.numbers))}</code></td></tr>`,
    )
    .join('');
  const latencyRows = Object.entries(report.latency)
    .map(([name, l]) => `<tr><th>${esc(name)}</th><td>${l.count}</td><td>${l.p50Ms}</td><td>${l.p90Ms}</td><td>${l.p99Ms}</td><td>${l.p999Ms}</td><td>${l.maxMs}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Flash-sale demo report ${esc(report.startedAt)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
tr.ok td:nth-child(3){color:#16a34a;font-weight:bold}tr.bad td:nth-child(3){color:#dc2626;font-weight:bold}tr.skip td:nth-child(3){color:#999}code{font-size:11px}</style></head><body>
<h1>Flash-sale demo — ${report.allPromisesHeld ? '<span style="color:#16a34a">all promises held</span>' : '<span style="color:#dc2626">PROMISE VIOLATED</span>'}</h1>
<p>Started ${esc(report.startedAt)} · activity ${esc(report.activityId)} · database <code>${esc(report.service.database)}</code></p>
<h2>Promises (checked against MySQL and Redis)</h2><table><tr><th>#</th><th>promise</th><th>result</th><th>violations</th><th>numbers</th></tr>${promises}</table>
<h2>Summary</h2><table>${rows({
    'requests': report.throughput.requests,
    'requests/s (buying phase)': report.throughput.requestsPerSecond,
    'peak requests/s': report.throughput.peakRequestsPerSecond,
    'time to sell out (s)': report.timeToSellOutSeconds,
    'time for the queue to drain (s)': report.timeToDrainSeconds,
    'orders persisted/s (first 202 → drained)': report.ordersPersistedPerSecond,
    'peak orders persisted/s (0.5 s samples)': report.peakOrdersPersistedPerSecond,
  })}</table>
<h2>Outcomes</h2><table>${rows(report.outcomes)}</table>
<h2>Latency (ms)</h2><table><tr><th>outcome</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>${latencyRows}</table>
${throughput}<br>${units}<br>${latency}
<h2>Payment phase</h2><table>${rows(report.payment)}</table>
<h2>Options</h2><table>${rows(report.options)}</table>
<h2>Notes</h2><ul>${report.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
</body></html>`;
}

export function writeReport(dir: string, report: DemoReport): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtml(report));
  return { json, html };
}
