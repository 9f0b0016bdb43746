/**
 * report.html is something a team can show: a summary sentence first, each promise in words with
 * its verdict, the machine and commit, human labels and formatted numbers (no raw JSON, no
 * internal field names), phase markers on the charts, and no horizontal overflow from a 390 px
 * phone to a desktop, measured in a real browser (Debian's Chromium).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { PromiseResult } from '../../src/demo/promises.ts';
import type { DemoReport, LatencySummary } from '../../src/demo/report-model.ts';
import { renderHtml } from '../../src/demo/report-html.ts';
import { summarySentence } from '../../src/demo/report-text.ts';
import { writeReport } from '../../src/demo/report.ts';
import { ensureChromium, launchChromium } from '../web/browser.ts';

function latency(count: number, p50: number, max: number): LatencySummary {
  const curve: Array<[number, number]> = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100].map((p) => [p, p50 * (0.2 + (p / 100) ** 4 * (max / p50))]);
  return { count, p50Ms: p50, p90Ms: p50 * 2, p99Ms: max * 0.8, p999Ms: max * 0.95, maxMs: max, curve };
}

function promise(id: PromiseResult['id'], numbers: PromiseResult['numbers'], violations: string[] = [], checked = true): PromiseResult {
  return { id, title: `internal title ${id}`, checked, held: violations.length === 0, violations, numbers };
}

/** A report shaped like a default `make demo` run: 1,000 units, 20,000 buyers. */
function fixture(): DemoReport {
  const timeline = Array.from({ length: 70 }, (_, i) => {
    const tMs = i * 500;
    const remaining = Math.max(0, 1000 - i * 350);
    return {
      tMs,
      phase: tMs < 4000 ? 'buying' : tMs < 6000 ? 'draining' : 'paying',
      requests: i * 4000,
      requestsPerSec: tMs < 4000 ? 7900 + (i % 3) * 400 : 20,
      accepted: 1000 - remaining,
      stock: 1000,
      remaining,
      available: i < 30 ? remaining : 0,
      locked: i < 12 ? 1000 - remaining : 120,
      sold: i < 12 ? 0 : 880,
      persisted: 1000 - remaining,
      queued: i < 4 ? 300 : 0,
    };
  });
  return {
    startedAt: '2026-11-22T08:13:04.546Z',
    machine: { cpuModel: 'AMD EPYC 9R14 96-Core Processor', cores: 2, memoryBytes: 25276510208, os: 'Debian GNU/Linux 12 (bookworm), Linux 6.1.0', node: 'v24.21.0', commit: '5851b430e4', commitDirty: false },
    options: { units: 1000, buyers: 20000, concurrency: 200, segments: 4, limit: 1, paymentTimeoutSeconds: 10, antiBot: false, difficulty: 8, keepRunning: false, keepData: false, reportsDir: '/tmp/r' },
    service: { url: 'http://127.0.0.1:1', database: 'seckill_demo_mwrk7q9e3cf4c7', redisPrefix: 'demo_mwrk7q9e3cf4c7', topicPrefix: 'demo_mwrk7q9e3cf4c7' },
    activityId: '1',
    outcomes: { ACCEPTED: 1243, SOLD_OUT: 31_337, LIMIT_EXCEEDED: 120, RATE_LIMITED: 4021, BUSY: 17, HTTP_502: 1 },
    throughput: { requests: 36_739, buyingPhaseSeconds: 4.61, requestsPerSecond: 7969.4, peakRequestsPerSecond: 9123.5 },
    latency: {
      ACCEPTED: latency(1243, 77.4, 420.2),
      SOLD_OUT: latency(31_337, 25.6, 243.7),
      LIMIT_EXCEEDED: latency(120, 44.5, 165.5),
      RATE_LIMITED: latency(4021, 3.2, 99.1),
      BUSY: latency(17, 1.1, 5.3),
      HTTP_502: latency(1, 12, 12),
      ALL: latency(36_739, 24.1, 420.2),
    },
    timeToSellOutSeconds: 3.21,
    timeToDrainSeconds: 5.02,
    ordersPersistedPerSecond: 212.4,
    peakOrdersPersistedPerSecond: 640,
    payment: {
      ran: true,
      paid: 901,
      unpaid: 99,
      cancelledByUser: 49,
      paymentFailed: 95,
      timedOut: 99,
      rebought: 143,
      waitlist: { target: 100, joined: 100, refusedNotSoldOut: 0, refusedOther: {}, offered: 100, purchasedFromOffer: 80, offerPurchaseRefused: 0, offersIgnored: 20, expired: 20, stillWaiting: 0 },
      secondsUntilStable: 24.5,
    },
    markers: [
      { label: 'sale starts', tMs: 0 },
      { label: 'sold out', tMs: 3210 },
      { label: 'buying ends', tMs: 4610 },
      { label: 'all orders in MySQL', tMs: 5020 },
      { label: 'payment phase', tMs: 5400 },
      { label: 'first payment timeouts due', tMs: 10_300 },
      { label: 'settled', tMs: 34_000 },
    ],
    promises: [
      promise(1, { stock: 1000, available: 0, locked: 0, sold: 1000, pendingUnits: 0, paidUnits: 1000, cancelledUnits: 243, failedOutOfStockUnits: 0, failedReturnedUnits: 0, distinctAccepted: 1243, unitsEverOnSale: 1243, redisRemaining: 0, redisInFlight: 0 }),
      promise(2, { inOrders: 1000, stock: 1000, available: 0, redisRemaining: 0, redisInFlight: 0 }),
      promise(3, { limitPerUser: 1, maxUnitsPerUserMysql: 1, maxUnitsPerUserRedis: 1, usersCheckedInRedis: 1243 }),
      promise(4, { accepted: 1243, inMysql: 1243, missing: 0, failed: 0, duplicates: 0, idempotencyMismatches: 0, ordersNotSeenAs202: 0, redisInFlight: 0 }),
      promise(5, { leftUnpaid: 99, expiredByTimeout: 99, maxExpiryLatenessMs: 512, graceMs: 7500, overduePending: 0, seenPaid: 901, paidThenCancelled: 0, cancelledOrders: 243 }),
    ],
    allPromisesHeld: true,
    timeline,
    // A long unbreakable token (a path in a note) must wrap, not widen the page.
    notes: ['a note with <angle brackets> & an ampersand', `see seckill_demo_${'mwrk7q9e3cf4c7'.repeat(20)}`],
  };
}

/** The text a reader sees, roughly: tags dropped, entities decoded. */
const visibleText = (html: string) =>
  html
    .replace(/<style>[\s\S]*?<\/style>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

describe('the demo report', () => {
  test('opens with the summary sentence: units, buyers, time to sell out, the promises', () => {
    const r = fixture();
    assert.equal(summarySentence(r), '1,000 units sold out to 20,000 buyers in 3.2 s; all five promises held.');
    const text = visibleText(renderHtml(r));
    assert.ok(text.indexOf('1,000 units sold out to 20,000 buyers in 3.2 s; all five promises held.') < text.indexOf('Never oversell'));
    assert.match(text, /901 orders were paid, 99 expired unpaid, 49 were cancelled and 95 payments failed; 223 returned units sold again, 80 of them to 100 waitlisted buyers/);
  });

  test('a violated promise is named in the summary and shown as violated with its evidence', () => {
    const r = fixture();
    r.promises[0] = promise(1, { ...r.promises[0]!.numbers, distinctAccepted: 1250 }, ['1250 distinct 202 order ids > 1243 units ever on sale']);
    r.allPromisesHeld = false;
    assert.match(summarySentence(r), /; VIOLATED: promise 1 \(never oversell\)\.$/);
    const html = renderHtml(r);
    assert.match(html, /<article class="promise bad">.*Never oversell.*violated.*1250 distinct 202 order ids &gt; 1243 units ever on sale/s);
    assert.match(html, /<title>Flash-sale demo: a promise was violated/);
  });

  test('a promise that could not be checked is said so, not counted as held', () => {
    const r = fixture();
    r.promises[4] = promise(5, { reason: 'payment phase did not run' }, [], false);
    assert.match(summarySentence(r), /; the four promises checked held \(not checked: #5\)\.$/);
    assert.match(visibleText(renderHtml(r)), /not checked\s+Not checked in this run: payment phase did not run\./);
  });

  test('human labels and formatted numbers: no raw JSON, no internal field names, escaped text', () => {
    const html = renderHtml(fixture());
    const text = visibleText(html);
    assert.ok(!text.includes('{"'), 'no JSON in the page');
    for (const internal of ['distinctAccepted', 'maxUnitsPerUserMysql', 'requestsPerSec', 'paymentTimeoutSeconds', 'refusedNotSoldOut', 'LIMIT_EXCEEDED ', 'HTTP_502']) {
      assert.ok(!text.includes(internal), `"${internal}" is shown to people`);
    }
    for (const shown of ['31,337', '20,000', 'Sold out (409)', 'Over limit (409)', 'HTTP 502 without an error code', 'Distinct accepted order ids', 'Bought with their offer']) {
      assert.ok(text.includes(shown), `"${shown}" is in the page`);
    }
    // The machine and the commit the figures came from.
    for (const shown of ['AMD EPYC 9R14 96-Core Processor', '23.5 GiB', 'Debian GNU/Linux 12', 'v24.21.0', '5851b430e4']) assert.ok(text.includes(shown), shown);
    assert.ok(text.includes('a note with <angle brackets> & an ampersand'));
    assert.ok(!html.includes('<angle brackets>'), 'notes are escaped');
  });

  test('the time charts mark the phases, numbered on the chart and named in its legend', () => {
    const html = renderHtml(fixture());
    const charts = html.match(/<figure class="chart">[\s\S]*?<\/figure>/g) ?? [];
    const timeCharts = charts.filter((c) => c.includes('seconds since the sale started'));
    assert.equal(timeCharts.length, 2);
    for (const chart of timeCharts) {
      assert.equal((chart.match(/stroke-dasharray="3 3"/g) ?? []).length, 7, 'one dashed line per phase marker');
      for (const label of ['sale starts (0.0 s)', 'sold out (3.2 s)', 'payment phase (5.4 s)', 'first payment timeouts due (10 s)', 'settled (34 s)']) {
        assert.ok(chart.includes(label), label);
      }
    }
  });

  describe('in a real browser', () => {
    let browser: Browser | undefined;
    let skip: string | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'seckill-report-'));
    before(async () => {
      skip = ensureChromium();
      if (skip) {
        if (process.env.CI) throw new Error(`the report must be checked in a browser in CI, but Chromium is unavailable: ${skip}`);
        console.log(`# SKIPPING the browser checks of the report: ${skip}`);
        return;
      }
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const width of [390, 768, 1440]) {
      test(`nothing is wider than a ${width} px window and the chart text stays readable`, async (t) => {
        if (!browser) return t.skip(skip);
        const { html } = writeReport(dir, fixture());
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        try {
          await page.goto(`file://${html}`);
          // A string: this code runs in the page (the test's tsconfig has no DOM types).
          const layout = (await page.evaluate(`(() => {
            const innerWidth = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll('body *')]
              .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
              .map((e) => e.tagName.toLowerCase() + '.' + e.className);
            const tickHeights = [...document.querySelectorAll('svg text.tick')].map((e) => e.getBoundingClientRect().height);
            return { scrollWidth: document.documentElement.scrollWidth, innerWidth, wide, minTick: Math.min(...tickHeights), charts: document.querySelectorAll('svg').length };
          })()`)) as { scrollWidth: number; innerWidth: number; wide: string[]; minTick: number; charts: number };
          assert.equal(layout.charts, 3);
          assert.ok(layout.scrollWidth <= layout.innerWidth, `page is ${layout.scrollWidth} px wide in a ${layout.innerWidth} px window`);
          assert.deepEqual(layout.wide.slice(0, 10), [], 'elements past the right edge');
          assert.ok(layout.minTick >= 9, `axis labels ${layout.minTick.toFixed(1)} px high`);
        } finally {
          await page.close();
        }
      });
    }
  });
});
