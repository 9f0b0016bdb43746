/**
 * `npm run chaos -- --runs N --seed S [--topology single|cluster|both] [--profile long|ci]`: the
 * randomized fault campaign (src/chaos/). Each run draws a sale and its faults from its seed (S,
 * S+1, …), injects them into the campaign's own Redis, Kafka, proxies and service, and checks
 * everything the buyers saw and MySQL and Redis hold. Exit 0: every run kept every promise; 1: a
 * run failed (its timeline and replay command are printed); 2: bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { type CampaignReport, runCampaign, seededPlans } from '../chaos/campaign.ts';
import { NAMED_PLANS } from '../chaos/named-plans.ts';
import type { Plan, Profile, Topology } from '../chaos/plan.ts';
import { MAX_SEED, randomSeed } from '../chaos/random.ts';
import { parseCommandLine } from './command-line.ts';

const USAGE = `usage: npm run chaos -- [options]   (src/cli/chaos.ts)

  --runs N           runs per topology [1]
  --seed S           seed of the first run (0..${MAX_SEED}); run i uses S+i [random, printed]
  --topology T       single | cluster | both [single]
  --profile P        long (outages 1-60 s, sales up to 500 units) | ci (a few seconds) [long]
  --plan NAME        run one named regression instead (${Object.keys(NAMED_PLANS).join(', ')})
  --stop-on-failure  stop a topology's campaign at its first failing run
  --json FILE        also write every run's plan, checks and numbers to FILE
  --help             this text

Replay a run: npm run chaos -- --seed <its seed> --runs 1 --topology <its topology> --profile <its profile>
Service logs: $TMPDIR/seckill-chaos-logs/<topology>-<seed>.log
More: docs/chaos.md; README.md, "The randomized fault campaign".`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n(see npm run chaos -- --help)\n`);
  process.exit(2);
}

const { values } = parseCommandLine(
  { name: 'chaos', usage: USAGE },
  {
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      topology: { type: 'string' },
      profile: { type: 'string' },
      plan: { type: 'string' },
      json: { type: 'string' },
      'stop-on-failure': { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  },
);

const integer = (name: string, text: string | undefined, fallback: number, max: number): number => {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max) fail(`--${name} must be an integer from 0 to ${max}, got "${text}"`);
  return Number(text);
};
const runs = integer('runs', values.runs, 1, 10_000);
if (runs < 1) fail('--runs must be at least 1');
const seed = integer('seed', values.seed, randomSeed(), MAX_SEED);
const topologyText = values.topology ?? 'single';
if (!['single', 'cluster', 'both'].includes(topologyText)) fail(`--topology must be single, cluster or both, got "${topologyText}"`);
const profile = (values.profile ?? 'long') as Profile;
if (!['long', 'ci'].includes(profile)) fail(`--profile must be long or ci, got "${profile}"`);
let named: Plan | undefined;
if (values.plan !== undefined) {
  named = NAMED_PLANS[values.plan];
  if (!named) fail(`--plan must be one of ${Object.keys(NAMED_PLANS).join(', ')}, got "${values.plan}"`);
  if (values.seed !== undefined || values.runs !== undefined) fail('--plan runs one fixed plan: leave out --seed and --runs');
}

const topologies: Topology[] = named ? [named.topology] : topologyText === 'both' ? ['single', 'cluster'] : [topologyText as Topology];
if (!named) console.log(`chaos: seed ${seed}, ${runs} run(s) per topology, profile ${profile}`);
const reports: CampaignReport[] = [];
for (const topology of topologies) {
  const plans = named ? [named] : seededPlans(seed, runs, topology, profile);
  reports.push(await runCampaign({ topology, plans, stopOnFailure: values['stop-on-failure'] === true }));
}
if (values.json) {
  writeFileSync(
    values.json,
    JSON.stringify(
      reports.map((r) => ({ topology: r.topology, passed: r.passed, summary: r.summary, runs: r.runs.map(({ timeline: _t, ...rest }) => rest) })),
      null,
      2,
    ),
  );
}
const passed = reports.every((r) => r.passed);
console.log(passed ? '\nchaos: every run kept every promise' : '\nchaos: FAILED (timelines and replay commands above)');
process.exit(passed ? 0 : 1);
