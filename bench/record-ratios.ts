/**
 * Records the guarded ratios (bench/ratios.ts) in bench/ratios.json: runs each guarded benchmark
 * with the flags given, one after the other (`--repeat N` times, keeping each ratio's median), and
 * writes its ratios with the commit, the date, the load average around the runs and the command.
 * Commit the file with the code it measured.
 *
 * The guard compares a smoke run (1 s per figure) with the record, and short runs sit lower than
 * long ones (less warm-up amortised): record with `-- --smoke` so like is compared with like, and
 * with --repeat so one lucky run does not set a record no honest run reaches again.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../src/cli/command-line.ts';
import { median } from './lib.ts';
import { GUARDED, parseRatios, RATIOS_FILE, type RatiosFile, readRecorded } from './ratios.ts';

const { positionals, values } = parseCommandLine(
  {
    name: 'bench/record-ratios',
    usage: `usage: node_modules/.bin/node bench/record-ratios.ts [--repeat N] [BENCHMARK...] [-- FLAGS]

Runs the guarded benchmarks (${Object.keys(GUARDED).join(', ')}; or the ones named) with FLAGS (the
guard's own: -- --smoke) N times each [1] and records the median of each ratio, the commit, date and
load average in bench/ratios.json, which the regression guard (test/demo/bench-smoke.test.ts)
compares against.`,
  },
  { allowPositionals: true, options: { repeat: { type: 'string' } } },
);
const repeat = Number(values.repeat ?? 1);
if (!Number.isInteger(repeat) || repeat < 1) {
  process.stderr.write(`bench/record-ratios: --repeat must be a positive integer, got "${values.repeat}"\n`);
  process.exit(2);
}
const flagsAt = positionals.findIndex((p) => p.startsWith('--'));
const scripts = (flagsAt < 0 ? positionals : positionals.slice(0, flagsAt)).filter((s) => s in GUARDED);
const flags = flagsAt < 0 ? [] : positionals.slice(flagsAt);

const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
const commit = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+changes' : ''}`;
const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

function run(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}`))));
  });
}

let recorded: RatiosFile = {};
try {
  recorded = readRecorded();
} catch {
  // First record.
}
for (const script of scripts.length > 0 ? scripts : Object.keys(GUARDED)) {
  const before = load();
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < repeat; i++) runs.push(parseRatios(await run(script)));
  const names = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  const ratios = Object.fromEntries(names.map((name) => [name, median(runs.flatMap((r) => (r[name] === undefined ? [] : [r[name]])))]));
  recorded[script] = {
    commit,
    date: new Date().toISOString(),
    loadAverage: `${before} before, ${load()} after`,
    command: ['node_modules/.bin/node', 'bench/record-ratios.ts', ...(repeat > 1 ? ['--repeat', String(repeat)] : []), script, ...(flags.length > 0 ? ['--', ...flags] : [])].join(' '),
    ratios,
  };
  writeFileSync(RATIOS_FILE, `${JSON.stringify(recorded, null, 2)}\n`);
}
process.stdout.write(`\nrecorded in ${RATIOS_FILE}\n`);
