/**
 * When a product tab talks to the server. 100,000 tabs open on one sale must not become a load
 * test of their own: no fixed-period polling, every timer jittered so the tabs never fall into
 * step, and nothing at all the server can be spared while the sale is far away.
 *
 * Expected traffic per open tab (visible; a hidden tab makes none of the periodic requests):
 * - on load: the page and its assets (hashed, cached for a year: a repeat visit fetches only the
 *   HTML, revalidated by ETag), GET /api/v1/time ×4 (clock sync), GET activity ×1, and when signed in
 *   my-order + waitlist ×1 each and one WebSocket;
 * - more than a minute before the start: GET activity about every 5 min (2.5–7.5 min) and
 *   GET /api/v1/time ×2 about every 10 min: ≈ 0.005 req/s per tab, ≈ 500 req/s for 100,000 tabs
 *   (the fixed 2 s poll this replaces made 50,000 req/s);
 * - the last minute: one GET activity at a random moment between 60 s and 30 s before the start (a
 *   moved start time is still seen), and for a challenge sale one POST challenge at a random moment
 *   between 29 s and 12 s before it, solved at once so the Buy click sends it without delay;
 * - during the sale: GET activity 3–10 s in, then every 3–9 s growing ×1.5 per poll up to 30–90 s
 *   (units left, sold out); the purchase itself and the order's status go over the WebSocket, with
 *   GET order polled only while the socket is down;
 * - sold out: about every 2 min (cancelled units may come back; waitlist offers are pushed);
 *   ended: nothing.
 */

export const FAR_REFRESH_MS = 5 * 60_000;
export const CLOCK_RESYNC_MS = 10 * 60_000;
/** The one pre-start refresh falls in [start - 60 s, start - 30 s]. */
export const LAST_MINUTE_MS = 60_000;
const LAST_CHECK_WINDOW_MS = 30_000;
/** Challenges are issued from 30 s before the start (docs/api.md); fetch one in [start - 29 s, start - 12 s]. */
export const CHALLENGE_FROM_MS = 29_000;
export const CHALLENGE_UNTIL_MS = 12_000;
const LIVE_FIRST_MIN_MS = 3_000;
const LIVE_FIRST_MAX_MS = 10_000;
const LIVE_BASE_MS = 6_000;
const LIVE_GROWTH = 1.5;
const LIVE_CAP_MS = 60_000;
const SOLD_OUT_MS = 120_000;

/** A uniformly random duration in [ms × (1 - spread), ms × (1 + spread)]. */
export function jittered(ms: number, spread = 0.5, random: () => number = Math.random): number {
  return ms * (1 - spread + 2 * spread * random());
}

/** A uniformly random time in [from, to). */
export function between(from: number, to: number, random: () => number = Math.random): number {
  return from + (to - from) * random();
}

export type Phase = 'far' | 'last-minute' | 'live' | 'sold-out' | 'ended';

export function phaseOf(nowMs: number, startMs: number, endMs: number, soldOut: boolean): Phase {
  if (nowMs >= endMs) return 'ended';
  if (nowMs < startMs - LAST_MINUTE_MS) return 'far';
  if (nowMs < startMs) return 'last-minute';
  return soldOut ? 'sold-out' : 'live';
}

/**
 * How long (ms) until the next activity refresh, or undefined for none. `livePolls` counts the
 * refreshes already made during the sale (the back-off step).
 */
export function nextActivityRefresh(
  nowMs: number,
  startMs: number,
  endMs: number,
  soldOut: boolean,
  livePolls: number,
  random: () => number = Math.random,
): number | undefined {
  switch (phaseOf(nowMs, startMs, endMs, soldOut)) {
    case 'far': {
      // Rare, jittered; but never skip the last-minute window, where one refresh must land.
      const windowAt = between(startMs - LAST_MINUTE_MS, startMs - LAST_MINUTE_MS + LAST_CHECK_WINDOW_MS, random);
      return Math.min(jittered(FAR_REFRESH_MS, 0.5, random), windowAt - nowMs);
    }
    case 'last-minute': {
      // The start is known to the millisecond and the page flips to LIVE on its own clock: the
      // first poll waits until a few seconds into the sale, when "units left" means something.
      return startMs - nowMs + between(LIVE_FIRST_MIN_MS, LIVE_FIRST_MAX_MS, random);
    }
    case 'live': {
      const base = Math.min(LIVE_CAP_MS, LIVE_BASE_MS * LIVE_GROWTH ** livePolls);
      return Math.min(jittered(base, 0.5, random), Math.max(1000, endMs - nowMs + 1000));
    }
    case 'sold-out':
      return Math.min(jittered(SOLD_OUT_MS, 0.5, random), Math.max(1000, endMs - nowMs + 1000));
    case 'ended':
      return undefined;
  }
}

/** After a failed refresh: the server's Retry-After if it sent one, else exponential, jittered, capped. */
export function retryDelay(failures: number, retryAfterSeconds: number | undefined, random: () => number = Math.random): number {
  if (retryAfterSeconds !== undefined && retryAfterSeconds > 0) return retryAfterSeconds * 1000 + between(0, 1000, random);
  return jittered(Math.min(LIVE_CAP_MS, 2000 * 2 ** failures), 0.5, random);
}

/** When to fetch the anti-bot challenge, as a delay from now (0 when the window is already open). */
export function challengeDelay(nowMs: number, startMs: number, random: () => number = Math.random): number | undefined {
  if (nowMs >= startMs) return undefined; // at and after the start the click solves one itself
  const opensAt = startMs - CHALLENGE_FROM_MS;
  if (nowMs >= opensAt) return between(0, Math.min(2000, startMs - nowMs), random);
  return between(opensAt, startMs - CHALLENGE_UNTIL_MS, random) - nowMs;
}
