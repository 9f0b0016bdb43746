/** The waiting room's pure rules: the chance of a unit, automatic admission, when to ask next, passes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AUTO_RATE, autoRoom, buyShare, chanceOfUnit, nextAutoRate, pollAfterMs } from '../../src/domain/waiting-room.ts';
import { createPasses } from '../../src/waiting-room/passes.ts';

describe('chanceOfUnit', () => {
  test('edges: no units → 0; nobody ahead → 1; far fewer buyers ahead than units → 1', () => {
    assert.equal(chanceOfUnit(0, 0, 0.5), 0);
    assert.equal(chanceOfUnit(10, 0, 0.5), 1);
    assert.equal(chanceOfUnit(100, 10, 0.5), 1);
  });

  test('falls as people ahead grow, and is about one half where expected buyers ahead meet the units', () => {
    const chances = [50, 150, 190, 200, 210, 250, 400].map((ahead) => chanceOfUnit(100, ahead, 0.5));
    for (let i = 1; i < chances.length; i++) assert.ok((chances[i] ?? 0) <= (chances[i - 1] ?? 0), JSON.stringify(chances));
    const middle = chanceOfUnit(100, 200, 0.5);
    assert.ok(middle > 0.4 && middle < 0.6, `at the expected edge: ${middle}`);
    assert.ok(chanceOfUnit(100, 400, 0.5) < 0.001);
  });

  test('matches a simulation of the binomial model', () => {
    const units = 20;
    const ahead = 50;
    const p = 0.4;
    let served = 0;
    const RUNS = 20_000;
    for (let run = 0; run < RUNS; run++) {
      let buyers = 0;
      for (let i = 0; i < ahead; i++) if (Math.random() < p) buyers++;
      if (buyers < units) served++;
    }
    assert.ok(Math.abs(chanceOfUnit(units, ahead, p) - served / RUNS) < 0.03);
  });
});

describe('automatic admission', () => {
  test('never more passes out than the units on sale can serve; nothing while nothing is on sale', () => {
    assert.equal(autoRoom({ onSale: 0, outstandingPasses: 0, buyShare: 0.5 }), 0);
    assert.equal(autoRoom({ onSale: 10, outstandingPasses: 0, buyShare: 0.5 }), 21);
    assert.equal(autoRoom({ onSale: 10, outstandingPasses: 30, buyShare: 0.5 }), 0);
  });

  test('the pace grows while the pipeline keeps up, halves when its backlog passes four seconds, within bounds', () => {
    assert.equal(nextAutoRate(50, 0), 75);
    assert.equal(nextAutoRate(50, 120), 50);
    assert.equal(nextAutoRate(50, 201), 25);
    assert.equal(nextAutoRate(AUTO_RATE.minimum, 10_000), AUTO_RATE.minimum);
    assert.equal(nextAutoRate(AUTO_RATE.maximum, 0), AUTO_RATE.maximum);
  });

  test('the share who buy is smoothed towards one half while few were admitted', () => {
    assert.equal(buyShare(0, 0), 0.5);
    assert.ok(buyShare(1000, 100) < 0.11);
  });
});

describe('pollAfterMs', () => {
  test('never past a third of the keep time; jittered ±20 %', () => {
    assert.equal(pollAfterMs({ etaSeconds: undefined, keepSeconds: 60, random: () => 0.5 }), 20_000);
    assert.equal(pollAfterMs({ etaSeconds: 10_000, keepSeconds: 60, random: () => 0.5 }), 20_000);
    assert.equal(pollAfterMs({ etaSeconds: 50, keepSeconds: 60, random: () => 0.5 }), 5000);
    assert.equal(pollAfterMs({ etaSeconds: 1, keepSeconds: 60, random: () => 0.5 }), 1000);
    assert.equal(pollAfterMs({ etaSeconds: 50, keepSeconds: 60, random: () => 0 }), 4000);
    assert.equal(pollAfterMs({ etaSeconds: 50, keepSeconds: 60, random: () => 0.9999 }), 6000);
    assert.equal(pollAfterMs({ etaSeconds: undefined, keepSeconds: 60, untilStartMs: 3000, random: () => 0.5 }), 4000, 'the pre-queue asks just after the start');
    assert.equal(pollAfterMs({ etaSeconds: undefined, keepSeconds: 60, untilStartMs: 600_000, random: () => 0.5 }), 20_000);
  });
});

describe('passes', () => {
  const passes = createPasses('secret-a');
  test('bound to activity, user and time; signature checked before anything else', () => {
    const pass = passes.sign('7', 'alice', 2000);
    assert.equal(passes.verify(pass, '7', 'alice', 1000), undefined);
    assert.equal(passes.verify(pass, '7', 'alice', 2000)?.code, 'PASS_EXPIRED');
    assert.equal(passes.verify(pass, '7', 'bob', 1000)?.code, 'PASS_INVALID');
    assert.equal(passes.verify(pass, '8', 'alice', 1000)?.code, 'PASS_INVALID');
    assert.equal(passes.verify(undefined, '7', 'alice', 1000)?.code, 'PASS_REQUIRED');
    assert.equal(passes.verify(pass.replace('.2000.', '.9999.'), '7', 'alice', 1000)?.code, 'PASS_INVALID', 'a longer expiry written in is a forgery');
    assert.equal(passes.verify(createPasses('secret-b').sign('7', 'alice', 2000), '7', 'alice', 1000)?.code, 'PASS_INVALID');
  });
});
