/**
 * Inline SVG line charts for report.html: no script, no network, scaled to the width they are
 * given (viewBox + width 100%). Sized so that at a phone's 358 px the text is still ~9 px and at
 * half a desktop page ~13 px. Legends are HTML beside the SVG, so they wrap instead of clipping.
 * Phase markers are numbered dashed lines, explained in the HTML legend under the chart.
 */
import { fmt } from './report-text.ts';

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface Marker {
  x: number;
  label: string;
}

export interface ChartOptions {
  xLabel: string;
  yLabel: string;
  xTicks?: Array<[number, string]>;
  markers?: Marker[];
}

export const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const W = 500;
const H = 300;
const L = 58;
const R = 16;
const B = 50;
/** Marker badges sit in rows above the plot; a badge needs this much room beside the previous one. */
const BADGE_ROOM = 20;
const BADGE_ROW = 19;
const MAX_BADGE_ROWS = 4;

/** Round axis steps (1, 2, 5 × 10^k), about `count` of them, the last one at or above `max`. */
function niceTicks(max: number, count = 4): number[] {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let i = 0; i <= Math.ceil(max / step - 1e-9); i++) ticks.push(i * step);
  return ticks;
}

/** The row of each badge: the first row where it does not touch the badge before it. */
function badgeRows(xs: number[]): number[] {
  const lastX: number[] = [];
  return xs.map((x) => {
    let row = lastX.findIndex((last) => x - last >= BADGE_ROOM);
    if (row < 0) row = lastX.length < MAX_BADGE_ROWS ? lastX.length : lastX.indexOf(Math.min(...lastX));
    lastX[row] = x;
    return row;
  });
}

function compact(v: number): string {
  if (Math.abs(v) >= 1_000_000) return `${fmt(v / 1_000_000, 1)}M`;
  if (Math.abs(v) >= 10_000) return `${fmt(v / 1000, 0)}k`;
  return fmt(v, v !== 0 && Math.abs(v) < 10 && !Number.isInteger(v) ? 1 : 0);
}

export function lineChart(title: string, series: Series[], options: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const markers = options.markers ?? [];
  const minX = Math.min(0, ...all.map((p) => p[0]));
  const maxX = Math.max(1e-9, ...all.map((p) => p[0]), ...markers.map((m) => m.x));
  const yTicks = niceTicks(Math.max(1e-9, ...all.map((p) => p[1])), 5);
  const maxY = yTicks.at(-1) ?? 1;
  const x = (v: number) => L + ((v - minX) / (maxX - minX || 1)) * (W - L - R);
  const rows = badgeRows(markers.map((m) => x(m.x)));
  const T = 30 + (markers.length > 0 ? (Math.max(...rows) + 1) * BADGE_ROW : 0);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif" font-size="13">`,
  ];
  for (const v of yTicks) {
    out.push(`<line x1="${L}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="${v === 0 ? '#9ca3af' : '#e5e7eb'}"/>`);
    out.push(`<text class="tick" x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#4b5563">${compact(v)}</text>`);
  }
  const xTicks = options.xTicks ?? niceTicks(maxX - minX, 5).map((v): [number, string] => [minX + v, compact(minX + v)]);
  for (const [v, label] of xTicks) {
    if (v > maxX + 1e-9) continue;
    out.push(`<text class="tick" x="${x(v).toFixed(1)}" y="${H - B + 18}" text-anchor="middle" fill="#4b5563">${esc(label)}</text>`);
  }
  out.push(`<text class="axis" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" fill="#374151">${esc(options.xLabel)}</text>`);
  out.push(`<text class="axis" x="4" y="16" fill="#374151">${esc(options.yLabel)}</text>`);
  markers.forEach((m, i) => {
    const mx = x(m.x).toFixed(1);
    const by = 30 + (rows[i] ?? 0) * BADGE_ROW;
    out.push(`<line x1="${mx}" y1="${by + 8}" x2="${mx}" y2="${H - B}" stroke="#6b7280" stroke-dasharray="3 3"/>`);
    out.push(`<circle cx="${mx}" cy="${by}" r="8" fill="#374151"><title>${esc(m.label)}</title></circle>`);
    out.push(`<text x="${mx}" y="${by + 4}" text-anchor="middle" fill="#fff" font-size="11" font-weight="bold">${i + 1}</text>`);
  });
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''} stroke-linejoin="round"/>`);
  }
  out.push('</svg>');
  const legend = series
    .filter((s) => s.points.length > 0)
    .map((s) => `<li><span class="swatch${s.dashed ? ' dashed' : ''}" style="--c:${s.color}"></span>${esc(s.name)}</li>`)
    .join('');
  const markerLegend = markers.map((m, i) => `<li><span class="badge">${i + 1}</span>${esc(m.label)}</li>`).join('');
  return (
    `<figure class="chart"><figcaption>${esc(title)}</figcaption>${out.join('')}` +
    `<ul class="legend">${legend}</ul>${markerLegend ? `<ul class="legend markers">${markerLegend}</ul>` : ''}</figure>`
  );
}
