/**
 * The product tab's request schedule (web/src/schedule.ts), over the whole life of a sale: far from
 * the start a tab asks rarely; one refresh lands in the last minute; nothing between it and the
 * start; backing off during the sale; nothing once it ended; every delay jittered so 100,000 tabs
 * never poll in step; the challenge is fetched inside the window the server issues it in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHALLENGE_FROM_MS, CHALLENGE_UNTIL_MS, challengeDelay, nextActivityRefresh, retryDelay } from '../../web/src/schedule.ts';

const START = 1_800_000_000_000;
const END = START + 3_600_000;

/** Simulates one tab from `from` to `to`: the times (ms) at which it refreshes the activity. */
function simulate(from: number, to: number, random: () => number, soldOutAfter = Number.POSITIVE_INFINITY): number[] {
  const at: number[] = [];
  let now = from;
  let livePolls = 0;
  for (let i = 0; i < 10_000; i++) {
    const delay = nextActivityRefresh(now, START, END, now >= soldOutAfter, livePolls, random);
    if (delay === undefined) break;
    assert.ok(delay > 0, `a positive delay (${delay} at ${now - START})`);
    now += delay;
    if (now > to) break;
    at.push(now);
    if (now >= START) livePolls++;
  }
  return at;
}

/** A seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('product tab schedule', () => {
  test('15 minutes before the start: a few refreshes, one in the last minute, none in the last 30 s', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const at = simulate(START - 15 * 60_000, START - 1, seeded(seed));
      // ~5 min apart (2.5–7.5), plus the last-minute one: at most 6 in 15 minutes (a 2 s poll made 450).
      assert.ok(at.length >= 2 && at.length <= 7, `seed ${seed}: ${at.length} refreshes`);
      const lastMinute = at.filter((t) => t >= START - 60_000);
      assert.equal(lastMinute.length, 1, `seed ${seed}: exactly one refresh in the last minute`);
      assert.ok((lastMinute[0] as number) <= START - 30_000, `seed ${seed}: it lands 60–30 s before the start`);
      for (let i = 1; i < at.length; i++) {
        const gap = (at[i] as number) - (at[i - 1] as number);
        assert.ok(gap >= 60_000 || (at[i] as number) >= START - 60_000, `seed ${seed}: ${gap} ms between far refreshes`);
      }
    }
  });

  test('tabs do not poll in step: the same moment gives spread-out delays', () => {
    const random = seeded(7);
    const delays = Array.from({ length: 1000 }, () => nextActivityRefresh(START - 10 * 60_000, START, END, false, 0, random) as number);
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    assert.ok(max - min > 4 * 60_000, `spread ${max - min} ms`);
    const oneSecondBuckets = new Map<number, number>();
    for (const d of delays) oneSecondBuckets.set(Math.floor(d / 1000), (oneSecondBuckets.get(Math.floor(d / 1000)) ?? 0) + 1);
    assert.ok(Math.max(...oneSecondBuckets.values()) <= 15, 'no second gets more than 1.5% of the tabs');
  });

  test('during the sale: the first poll a few seconds in, then backing off; sold out is slower; ended stops', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = seeded(seed);
      const first = nextActivityRefresh(START - 20_000, START, END, false, 0, random) as number;
      assert.ok(first >= 23_000 && first <= 30_000, `seed ${seed}: first poll ${first - 20_000} ms after the start`);
      const at = simulate(START, START + 10 * 60_000, random);
      // Backing off to ≤ 90 s: in 10 minutes a tab polls about 12–30 times, not 300.
      assert.ok(at.length >= 6 && at.length <= 40, `seed ${seed}: ${at.length} polls in 10 minutes`);
      const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
      assert.ok(Math.max(...gaps) <= 90_000, `seed ${seed}: longest gap ${Math.max(...gaps)}`);
      assert.ok(gaps.slice(-3).every((g) => g >= 15_000), `seed ${seed}: backed off (${gaps.slice(-3).join(', ')})`);
    }
    const soldOut = nextActivityRefresh(START + 60_000, START, END, true, 3, seeded(3)) as number;
    assert.ok(soldOut >= 60_000 && soldOut <= 180_000, `sold out: ${soldOut}`);
    assert.equal(nextActivityRefresh(END, START, END, false, 5), undefined);
    assert.equal(nextActivityRefresh(END + 1, START, END, true, 5), undefined);
  });

  test('failures back off exponentially and honour Retry-After', () => {
    const random = seeded(11);
    assert.ok(retryDelay(1, 7, random) >= 7_000 && retryDelay(1, 7, random) < 8_000);
    const growing = [1, 2, 3, 4].map((n) => retryDelay(n, undefined, () => 0.5));
    assert.deepEqual(growing, [4_000, 8_000, 16_000, 32_000]);
    assert.equal(retryDelay(20, undefined, () => 0.5), 60_000, 'capped');
  });

  test('the challenge is fetched inside the window the server issues it in, leaving time to solve', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seeded(seed);
      const from = START - 10 * 60_000;
      const at = from + (challengeDelay(from, START, random) as number);
      assert.ok(at >= START - CHALLENGE_FROM_MS && at <= START - CHALLENGE_UNTIL_MS, `seed ${seed}: at ${at - START}`);
      // A page opened inside the window fetches at once (within 2 s), never after the start.
      const late = START - 5_000;
      const lateDelay = challengeDelay(late, START, random) as number;
      assert.ok(lateDelay >= 0 && lateDelay <= 2_000 && late + lateDelay <= START, `seed ${seed}: late ${lateDelay}`);
    }
    assert.equal(challengeDelay(START, START), undefined, 'from the start on, the click solves one itself');
  });
});
