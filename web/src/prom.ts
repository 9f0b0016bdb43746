/** A small parser for the Prometheus text exposition format (what GET /metrics serves). */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL)) {
      labels[key as string] = (raw as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = match[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[3]);
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

/** Sum of a series' values per value of one label (e.g. outcome → count). */
export function byLabel(samples: Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** Cumulative histogram buckets (le → count) summed over the series that match `filter`. */
export function buckets(samples: Sample[], histogram: string, filter: (labels: Record<string, string>) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${histogram}_bucket` || !filter(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile from cumulative buckets, interpolating linearly inside the bucket as Prometheus'
 * histogram_quantile does; undefined when there were no observations.
 */
export function quantile(q: number, cumulative: Map<number, number>): number | undefined {
  const sorted = [...cumulative.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** Bucket-by-bucket difference (for a quantile over the last interval only). */
export function diff(now: Map<number, number>, before: Map<number, number> | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, count] of now) out.set(le, count - (before?.get(le) ?? 0));
  return out;
}
