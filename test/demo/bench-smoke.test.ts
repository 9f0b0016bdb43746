/**
 * The benchmarks are not tests, but they must not rot: each runs once at smoke size (1 run of
 * 1 s per phase) and must finish, print its figures and its ratios against the baselines.
 * It is also the regression guard: each guarded ratio (bench/ratios.ts) of the short run must not
 * fall more than its margin below the one recorded in bench/ratios.json with its commit. A short run
 * on a shared machine can land one ratio in a second of someone else's work, so a ratio below its
 * floor is measured again (up to GUARD_RUNS runs in all) and fails only if it stays below in every
 * run: a real regression is below in all of them, a neighbour's burst rarely twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRatios, regressions } from '../../bench/ratios.ts';

const GUARD_RUNS = 3;

function run(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(`../../bench/${script}`, import.meta.url)), '--smoke'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

for (const [script, figures] of [
  ['purchase.ts', ['SOLD_OUT (local flag)', 'replay of a 202', 'LIMIT_EXCEEDED', 'reservation (202)', 'steal from another shard (202)', 'BUSY (Redis circuit open)', 'baseline: bare Fastify route', 'floor: service HTTP pipeline, SOLD_OUT from memory', 'ceiling: trivial node:http server', 'baseline: reserve Lua']],
  ['read-path.ts', ['activity detail: service (cached)', 'baseline: straight MySQL per request']],
  ['persistence.ts', ['worker: one transaction per batch of 500', 'baseline: one transaction per order', '2 workers, one stock row', '4 workers, 4 stock slots']],
  ['scale-out.ts', ['single Redis: 1 API process', 'single Redis: 2 API processes']],
  ['processes.ts', ['sold-out rush: 1 API process', 'reservations: 1 API process', 'ceiling: trivial node:http server']],
  ['waiting-room.ts', ['poll (GET …/queue)', 'join (POST …/queue, new people)', 'purchase SOLD_OUT (local flag)', 'baseline: bare Fastify route']],
] as const) {
  test(`bench/${script} --smoke prints its figures and ratios`, { timeout: 720_000 }, async () => {
    const { code, output } = await run(script);
    assert.equal(code, 0, output);
    for (const name of figures) assert.match(output, new RegExp(`${name.replace(/[()]/g, '\\$&')}\\s.*\\d+ ops/s`), `${name} in:\n${output}`);
    assert.match(output, /ratio .*\d+\.\d\d×/);
    // Per ratio, the best of the runs so far: only a ratio below its floor in every run fails.
    const best = parseRatios(output);
    let outputs = output;
    for (let runs = 1; runs < GUARD_RUNS && regressions(script, best).length > 0; runs += 1) {
      const again = await run(script);
      assert.equal(again.code, 0, again.output);
      outputs += `\n--- run ${runs + 1} ---\n${again.output}`;
      for (const [name, ratio] of Object.entries(parseRatios(again.output))) best[name] = Math.max(best[name] ?? ratio, ratio);
    }
    assert.deepEqual(regressions(script, best), [], `ratios below the record in bench/ratios.json in all of ${GUARD_RUNS} runs:\n${outputs}`);
  });
}

test('bench/websockets.ts --smoke holds its sockets, answers pings and delivers every push', { timeout: 120_000 }, async () => {
  const { code, output } = await run('websockets.ts');
  assert.equal(code, 0, output);
  const held = /^held: 500 open · RSS \d+ MB.*, (\d+) pings answered/m.exec(output);
  assert.ok(held && Number(held[1]) > 0, output);
  assert.match(output, /^pushes: (\d+) published \(2000\/s\), \1 delivered/m, output);
  assert.match(output, /^closed by the server, by reason: \{\}$/m, output);
});
