/**
 * What the demo's report says: the shape of report.json, which report.html (report-html.ts) and the
 * terminal's closing lines (report-text.ts) are rendered from. Kept apart from both, so the
 * renderers depend on the model and never on each other's writer.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { MachineInfo } from './machine.ts';
import type { ProgressSample } from './progress.ts';
import type { PromiseResult } from './promises.ts';
import type { QueueStats } from './queue-crowd.ts';
import type { WaitlistStats } from './waitlist-crowd.ts';

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

/** A moment of the run, in ms since the sale started; drawn on the charts. */
export interface PhaseMarker {
  label: string;
  tMs: number;
}

export interface PaymentSummary {
  ran: boolean;
  skippedBecause?: string;
  /** Orders seen PAID. */
  paid: number;
  /** Orders the demo left unpaid on purpose (they must time out). */
  unpaid: number;
  cancelledByUser: number;
  paymentFailed: number;
  timedOut: number;
  /** Units bought again on open sale by buyers who had been told SOLD_OUT. */
  rebought: number;
  waitlist: WaitlistStats;
  secondsUntilStable: number | null;
}

export interface DemoReport {
  startedAt: string;
  machine: MachineInfo;
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
  payment: PaymentSummary;
  markers: PhaseMarker[];
  promises: PromiseResult[];
  allPromisesHeld: boolean;
  timeline: ProgressSample[];
  notes: string[];
  /** The waiting room's side of the run (absent in the open rush, `--rush`). */
  waitingRoom?: QueueStats;
}
