/**
 * The benchmarks are not tests, but they must not rot: each runs once at smoke size (1 run of
 * 1 s per phase) and must finish, print its figures and its ratios against the baselines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

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
  ['purchase.ts', ['purchase: reserving (202)', 'purchase: sold out (409)', 'purchase: limit exceeded (409)', 'baseline: bare Fastify route', 'baseline: reserve Lua', 'baseline: naive MySQL']],
  ['read-path.ts', ['activity detail: service (cached)', 'baseline: straight MySQL per request']],
  ['persistence.ts', ['worker: one transaction per batch of 500', 'baseline: one transaction per order', '2 workers on the same activity, batches of 500']],
  ['scale-out.ts', ['single Redis: 1 API process', 'single Redis: 2 API processes']],
] as const) {
  test(`bench/${script} --smoke prints its figures and ratios`, { timeout: 120_000 }, async () => {
    const { code, output } = await run(script);
    assert.equal(code, 0, output);
    for (const name of figures) assert.match(output, new RegExp(`${name.replace(/[()]/g, '\\$&')}\\s.*\\d+ ops/s`), `${name} in:\n${output}`);
    assert.match(output, /ratio .*\d+\.\d\d×/);
  });
}
