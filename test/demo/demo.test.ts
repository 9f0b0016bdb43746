/**
 * `make demo` at CI size: the real CLI starts its own service, runs the whole flash sale (buying,
 * payment, timeouts, re-buys) and checks the promises against MySQL and Redis. It must exit 0 and
 * its report must say every promise that was checked held, with the buying and the checks real.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DemoReport } from '../../src/demo/report-model.ts';

const DEMO = fileURLToPath(new URL('../../src/cli/demo.ts', import.meta.url));
const reports = mkdtempSync(join(tmpdir(), 'seckill-demo-'));
after(() => rmSync(reports, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

test('the demo at small size, as an open rush (--rush), sells out, pays, re-sells (open sale and waitlist) and keeps every promise', { timeout: 180_000 }, async () => {
  const { code, output } = await run(['--size', 'small', '--buyers', '1500', '--payment-timeout', '5', '--rush', '--reports', reports]);
  assert.equal(code, 0, output);
  const [dir] = readdirSync(reports).sort();
  assert.ok(dir, 'a report folder was written');
  const report = JSON.parse(readFileSync(join(reports, dir, 'report.json'), 'utf8')) as DemoReport;
  const html = readFileSync(join(reports, dir, 'report.html'), 'utf8');
  assert.ok(html.includes('<svg'), 'the HTML report has charts');
  assert.equal(report.allPromisesHeld, true, JSON.stringify(report.promises, null, 2));
  const byId = new Map(report.promises.map((p) => [p.id, p]));
  for (const id of [1, 2, 3, 4] as const) assert.equal(byId.get(id)?.checked, true, `promise ${id} was checked`);
  // The sale really happened: every unit was taken, the crowd was refused, the 202s were counted.
  assert.equal((report.outcomes['ACCEPTED'] ?? 0) >= 100, true);
  assert.ok((report.outcomes['SOLD_OUT'] ?? 0) > 1000);
  assert.equal(byId.get(1)?.numbers['stock'], 100);
  assert.ok(report.timeline.length > 0);
  assert.ok(report.latency['ALL'] && report.latency['ALL'].count === report.throughput.requests);
  assert.equal(report.payment.ran, true, report.payment.skippedBecause);
  assert.equal(byId.get(5)?.checked, true);
  assert.ok(Number(byId.get(5)?.numbers['expiredByTimeout']) > 0, 'some unpaid orders timed out');
  // The waitlist ran: sold-out buyers joined while sold out, returned units were offered to them,
  // most bought with their offer, and the offers left unused expired and passed on.
  const w = report.payment.waitlist;
  assert.ok(w.joined > 0, `nobody joined the waitlist: ${JSON.stringify(w)}`);
  assert.ok(w.offered > 0 && w.purchasedFromOffer > 0, JSON.stringify(w));
  assert.ok(w.offersIgnored > 0 && w.expired > 0, JSON.stringify(w));
  assert.equal(w.offerPurchaseRefused, 0, 'an offer holds its unit for the offered buyer');
  assert.ok(html.includes('all five promises held'), 'the summary sentence opens the HTML report');
});

test('the demo through the waiting room (the default) keeps every promise, refuses the bots and reports waits and fairness', { timeout: 300_000 }, async () => {
  const own = mkdtempSync(join(tmpdir(), 'seckill-demo-wr-'));
  try {
    const { code, output } = await run(['--size', 'small', '--buyers', '1500', '--payment-timeout', '5', '--reports', own]);
    assert.equal(code, 0, output);
    const [dir] = readdirSync(own);
    assert.ok(dir, 'a report folder was written');
    const report = JSON.parse(readFileSync(join(own, dir, 'report.json'), 'utf8')) as DemoReport;
    assert.equal(report.allPromisesHeld, true, JSON.stringify(report.promises, null, 2));
    for (const p of report.promises.filter((x) => x.id <= 4)) assert.equal(p.checked, true, `promise ${p.id} was checked`);
    const q = report.waitingRoom;
    assert.ok(q, 'the report has the waiting room');
    assert.ok(q.joined >= 1400, `joined ${q.joined}`);
    assert.ok(q.admitted >= 100, `admitted ${q.admitted}`);
    assert.ok(q.learnedEarlyNoChance > 0, 'some learned early that they had no chance');
    assert.ok(q.waitSeconds && q.waitSeconds.p50 >= 0);
    assert.notEqual(q.fairness.uniform, false, `fairness: ${JSON.stringify(q.fairness)}`);
    assert.ok((report.outcomes['PASS_REQUIRED'] ?? 0) > 0, 'bots skipping the line were refused');
    assert.match(output, /waiting room: .* joined/);
    assert.match(output, /fairness: Spearman/);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});
