/**
 * A campaign: runs one plan after another in one world (the seeds S, S+1, …, or named plans), each
 * in a fresh deployment, checks each with the one checker, prints a failing run's timeline, and
 * sums up: runs, faults injected by kind, checks failed, recovery and settle times. `--seed S
 * --runs 1` replays a run of any campaign: its plan comes from its seed alone.
 */
import { check, type Verdict } from './checker.ts';
import { describePlan, type FaultKind, type Plan, planRun, type Profile, type Topology } from './plan.ts';
import { runPlan } from './sale.ts';
import { timeline } from './timeline.ts';
import { World } from './world.ts';

export interface RunReport {
  plan: Plan;
  /** undefined: the run could not be completed (error says why). */
  verdict: Verdict | undefined;
  error: string | undefined;
  timeline: string | undefined;
  durationMs: number;
  faults: Array<{ kind: FaultKind; durationMs: number; effect: string }>;
}

export interface CampaignReport {
  topology: Topology;
  runs: RunReport[];
  passed: boolean;
  summary: string;
}

export interface CampaignOptions {
  topology: Topology;
  /** The plans to run, in order. */
  plans: Plan[];
  log?: (line: string) => void;
  /** Stop after the first failing run (its world is left for nobody: it is torn down all the same). */
  stopOnFailure?: boolean;
}

/** The seeds S, S+1, … S+runs-1 of one topology and profile. */
export function seededPlans(seed: number, runs: number, topology: Topology, profile: Profile): Plan[] {
  return Array.from({ length: runs }, (_, i) => planRun((seed + i) >>> 0, topology, profile));
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const reports: RunReport[] = [];
  const started = Date.now();
  log(`chaos: starting the ${options.topology} world (own Redis, own Kafka broker, proxies)…`);
  const world = await World.start(options.topology);
  log(`chaos: world up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    for (const [i, plan] of options.plans.entries()) {
      const runStarted = Date.now();
      log(`\nrun ${i + 1}/${options.plans.length}: ${describePlan(plan)}`);
      const label = `${plan.topology}-${plan.name ?? plan.seed}`;
      const report: RunReport = { plan, verdict: undefined, error: undefined, timeline: undefined, durationMs: 0, faults: [] };
      try {
        await world.heal();
        const run = await world.startRun(plan, label);
        try {
          const history = await runPlan(world, run, plan, log);
          report.faults = history.faults.map((f) => ({ kind: f.step.kind, durationMs: f.healedAt - f.startedAt, effect: f.effect }));
          report.verdict = await check(history);
          for (const note of report.verdict.notes) log(`  ${note}`);
          if (report.verdict.failed.length > 0) report.timeline = timeline(history, report.verdict);
        } finally {
          const problems = await world.endRun(run);
          if (problems.length > 0) log(`  clean-up: ${problems.join('; ')}`);
        }
      } catch (error) {
        report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
      }
      report.durationMs = Date.now() - runStarted;
      reports.push(report);
      const failed = report.error !== undefined || (report.verdict?.failed.length ?? 0) > 0;
      if (report.error) log(`  RUN ERROR (seed ${plan.seed}): ${report.error}`);
      else if (report.verdict) {
        for (const c of report.verdict.checks) log(`  ${c.violations.length === 0 ? 'ok  ' : 'FAIL'} ${c.name}${c.violations.length ? `\n         ${c.violations.join('\n         ')}` : ''}`);
      }
      if (report.timeline) log(`\n--- timeline of the failing run (seed ${plan.seed}) ---\n${report.timeline}\n`);
      log(`  run ${failed ? 'FAILED' : 'passed'} in ${(report.durationMs / 1000).toFixed(0)} s; replay: npm run chaos -- ${replayArgs(plan)}`);
      if (failed && options.stopOnFailure) break;
    }
  } finally {
    await world.stop();
  }
  const summary = summarize(options.topology, reports, Date.now() - started);
  log(`\n${summary}`);
  const passed = reports.length === options.plans.length && reports.every((r) => r.error === undefined && r.verdict?.failed.length === 0);
  return { topology: options.topology, runs: reports, passed, summary };
}

/** The arguments that replay one run. */
export function replayArgs(plan: Plan): string {
  if (plan.name) return `--plan ${plan.name}`;
  return `--seed ${plan.seed} --runs 1 --topology ${plan.topology} --profile ${plan.profile}`;
}

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export function summarize(topology: Topology, reports: RunReport[], tookMs: number): string {
  const byKind = new Map<string, { count: number; minMs: number; maxMs: number }>();
  for (const r of reports) {
    for (const f of r.faults) {
      const k = byKind.get(f.kind) ?? { count: 0, minMs: Infinity, maxMs: 0 };
      byKind.set(f.kind, { count: k.count + 1, minMs: Math.min(k.minMs, f.durationMs), maxMs: Math.max(k.maxMs, f.durationMs) });
    }
  }
  const failedRuns = reports.filter((r) => r.error !== undefined || (r.verdict?.failed.length ?? 0) > 0);
  const broken = new Map<string, number>();
  for (const r of reports) for (const c of r.verdict?.failed ?? []) broken.set(c.name, (broken.get(c.name) ?? 0) + 1);
  // Recovery after a fault with no other under way: what that fault alone costs.
  const recovery = reports.flatMap((r) => (r.verdict?.recoveries ?? []).filter((x) => x.alone).map((x) => x.ms));
  const settle = reports.flatMap((r) => (r.verdict?.settleMs === undefined ? [] : [r.verdict.settleMs]));
  const breaches = new Map<string, number>();
  for (const r of reports) for (const [k, n] of Object.entries(r.verdict?.breaches ?? {})) breaches.set(k, (breaches.get(k) ?? 0) + n);
  const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  return [
    `chaos campaign (${topology}): ${reports.length} runs in ${(tookMs / 60_000).toFixed(1)} min, ${failedRuns.length} failed` +
      (failedRuns.length > 0 ? ` (seeds ${failedRuns.map((r) => r.plan.name ?? r.plan.seed).join(', ')})` : ''),
    `faults injected: ${[...byKind].sort().map(([kind, k]) => `${kind} ×${k.count} (${s(k.minMs)}–${s(k.maxMs)})`).join(', ') || 'none'}`,
    `checks failed: ${[...broken].map(([name, n]) => `${name} ×${n}`).join(', ') || 'none (promises broken: 0)'}`,
    `recovery (heal of a fault with no other under way → first 202, units left; ${recovery.length} faults): median ${s(percentile(recovery, 0.5))}, max ${s(percentile(recovery, 1))}; settle (last heal → every 202 an order): median ${s(percentile(settle, 0.5))}, max ${s(percentile(settle, 1))}`,
    `documented weaker forms after Redis lost data: ${[...breaches].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`,
  ].join('\n');
}

/** For tests: runs `plans` and fails with every failing run's checks and timeline. */
export async function expectCampaignPasses(topology: Topology, plans: Plan[]): Promise<void> {
  const report = await runCampaign({ topology, plans });
  if (!report.passed) {
    const failures = report.runs
      .filter((r) => r.error !== undefined || (r.verdict?.failed.length ?? 0) > 0)
      .map((r) => `seed ${r.plan.name ?? r.plan.seed} (replay: npm run chaos -- ${replayArgs(r.plan)}):\n${r.error ?? r.timeline ?? ''}`);
    throw new Error(`${report.summary}\n\n${failures.join('\n\n')}`);
  }
}
