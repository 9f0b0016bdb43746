/**
 * The regression guard's record: the ratios the benchmarks measured (each against a baseline in the
 * same run), kept in bench/ratios.json with the commit, date and load average they were measured at.
 * Ratios, not absolute rates, so a slower or busier machine does not fail the guard; a margin per
 * ratio absorbs the noise of a short run. bench/record-ratios.ts writes the file;
 * test/demo/bench-smoke.test.ts runs each benchmark briefly and fails when a guarded ratio falls
 * more than its margin below the record.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RATIOS_LINE } from './lib.ts';

export const RATIOS_FILE = fileURLToPath(new URL('./ratios.json', import.meta.url));

/**
 * The ratios guarded, per benchmark, and how far below the record each may fall (0.5: a measured
 * ratio under half the recorded one fails). Margins are wide because the CI run is short (1 s per
 * figure) on a shared machine: they catch a path that became several times slower (a lost batch,
 * a serial point back, a new round trip per request), not a few percent.
 */
export const GUARDED: Record<string, Record<string, number>> = {
  'purchase.ts': {
    'SOLD_OUT / bare Fastify': 0.5,
    'replay / bare Fastify': 0.5,
    'LIMIT_EXCEEDED / bare Fastify': 0.5,
    'reservation / bare Fastify': 0.5,
  },
  'persistence.ts': {
    // One transaction per order manages a few dozen in a 1-second run: that baseline swings ±3x.
    // The guard is there for batching lost (the ratio falls towards 1), not for a few percent.
    'batch / one-per-order': 0.85,
    // Not guarded: the worker ratios (2 and 4 workers / 1). On two shared cores MariaDB's CPU is
    // the limit and they sit within a short run's noise of 1 either way; that a batch never waits
    // for another worker's slot is held by test/db/stock-slots.test.ts instead.
  },
  'read-path.ts': {
    'cached / straight MySQL': 0.5,
  },
};

export interface Recorded {
  commit: string;
  date: string;
  loadAverage: string;
  command: string;
  ratios: Record<string, number>;
}

export type RatiosFile = Record<string, Recorded>;

/** The ratios a benchmark printed (its ratios-json line). */
export function parseRatios(output: string): Record<string, number> {
  const line = output
    .split('\n')
    .filter((l) => l.startsWith(`${RATIOS_LINE} `))
    .at(-1);
  return line ? (JSON.parse(line.slice(RATIOS_LINE.length + 1)) as Record<string, number>) : {};
}

export function readRecorded(): RatiosFile {
  return JSON.parse(readFileSync(RATIOS_FILE, 'utf8')) as RatiosFile;
}

/** One line per guarded ratio of `script` that fell more than its margin below the record (or is missing). */
export function regressions(script: string, measured: Record<string, number>, recorded: RatiosFile = readRecorded()): string[] {
  const record = recorded[script];
  const guarded = GUARDED[script];
  if (!record || !guarded) return [];
  return Object.entries(guarded).flatMap(([name, margin]) => {
    const was = record.ratios[name];
    if (was === undefined) return [];
    const now = measured[name];
    const floor = was * (1 - margin);
    if (now === undefined) return [`${name}: not measured (recorded ${was} at ${record.commit})`];
    return now < floor ? [`${name}: ${now} < ${floor.toFixed(3)} (recorded ${was} at ${record.commit}, margin ${margin * 100} %)`] : [];
  });
}
