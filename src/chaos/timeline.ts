/**
 * A failing run's minimal timeline: one row per second of the run, with what happened (faults
 * starting and healing, marks), the answers to requests sent in that second, /readyz, and MySQL's
 * and Redis's state; quiet seconds that look alike are folded into one line, so the moment it
 * went wrong stands out. Then the failed checks and the service's last warnings.
 */
import { readFileSync } from 'node:fs';
import { type Check, outcome, type Verdict } from './checker.ts';
import { describePlan } from './plan.ts';
import type { RunHistory } from './sale.ts';

const MAX_ROWS = 90;

export function timeline(history: RunHistory, verdict: Verdict): string {
  const start = history.startedAt;
  const end = Math.max(history.drainedAt ?? 0, history.final.at, ...history.readiness.map((r) => r.at));
  const second = (at: number) => Math.floor((at - start) / 1000);
  const seconds = second(end) + 1;
  const events = new Map<number, string[]>();
  const event = (at: number, text: string) => events.set(second(at), [...(events.get(second(at)) ?? []), text]);
  for (const fault of history.faults) {
    event(fault.startedAt, `▶ ${fault.label}`);
    for (const mark of fault.marks) event(mark.at, `· ${mark.label}`);
    event(fault.healedAt, `■ healed ${fault.step.kind}${fault.effect ? ` (${fault.effect})` : ''}`);
  }
  for (const mark of history.marks) event(mark.at, `· ${mark.label}`);
  for (const exit of history.run.service.exits) event(exit.at, `· service #${exit.generation} exited ${exit.code ?? exit.killedBy}${exit.tookMs !== undefined ? ` after ${exit.tookMs} ms` : ''}`);
  if (history.drainedAt) event(history.drainedAt, '· drained: every 202 is in MySQL, nothing in flight');

  const answers = new Map<number, Map<string, number>>();
  for (const a of history.crowd.answers()) {
    const bucket = answers.get(second(a.sentAt)) ?? new Map<string, number>();
    bucket.set(outcome(a), (bucket.get(outcome(a)) ?? 0) + 1);
    answers.set(second(a.sentAt), bucket);
  }
  const ready = new Map<number, Set<number>>();
  for (const r of history.readiness) ready.set(second(r.at), (ready.get(second(r.at)) ?? new Set()).add(r.status));
  const state = new Map<number, string>();
  for (const s of history.states) {
    const redis = s.redisRemaining === null && s.redisReservations < 0 ? 'unreadable' : `${s.redisRemaining ?? '-'}/${s.redisReservations}/${s.redisPending}`;
    state.set(second(s.at), `${s.available}/${s.locked}/${s.sold}  ${redis}`);
  }

  const rows: string[] = [];
  let folded = 0;
  let previousShape = '';
  for (let t = 0; t < seconds; t++) {
    const bucket = answers.get(t);
    const said = bucket ? [...bucket].sort().map(([o, n]) => `${o.replace('409 ', '').replace('503 ', '')}×${n}`).join(' ') : '';
    const readyz = [...(ready.get(t) ?? [])].join(',');
    const what = (events.get(t) ?? []).join('; ');
    const shape = `${bucket ? [...bucket.keys()].sort().join() : ''}|${readyz}`;
    if (!what && shape === previousShape) {
      folded++;
      continue;
    }
    if (folded > 0) rows.push(`        … ${folded} s alike`);
    folded = 0;
    previousShape = shape;
    rows.push(`${String(t).padStart(5)} s  ${said.padEnd(44)} ${readyz.padEnd(8)} ${(state.get(t) ?? '').padEnd(26)} ${what}`);
  }
  if (folded > 0) rows.push(`        … ${folded} s alike`);
  const shown = rows.length > MAX_ROWS ? [...rows.slice(0, MAX_ROWS / 2), `        … ${rows.length - MAX_ROWS} rows left out`, ...rows.slice(-MAX_ROWS / 2)] : rows;
  const header = `    t    answers to requests sent that second     readyz   MySQL a/l/s  Redis rem/resv/pend  events`;
  return [
    `plan: ${describePlan(history.plan)}`,
    header,
    ...shown,
    ...verdict.failed.map((c: Check) => `FAIL ${c.name}\n       ${c.violations.join('\n       ')}`),
    `--- service warnings and errors (last 15) ---`,
    ...warnings(history.run.service.logFile),
    `(full log: ${history.run.service.logFile})`,
  ].join('\n');
}

function warnings(file: string): string[] {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
  return lines
    .filter((line) => /"level":(40|50|60)/.test(line) || /^seckill: /.test(line))
    .slice(-15)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line));
}
