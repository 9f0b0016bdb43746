/**
 * When the page asks for the activity again (schedule.ts: rarely far from the start, backing off
 * during it, never from a hidden tab) and when it resyncs the server clock: 100,000 open tabs must
 * not become a load of their own.
 */
import type { ApiError } from '../api.ts';
import { CLOCK_RESYNC_MS, jittered, nextActivityRefresh, retryDelay } from '../schedule.ts';
import { loadActivity, scheduleStart } from './activity.ts';
import { clock, state } from './page.ts';
import { currentStatus } from './status.ts';

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let livePolls = 0;
let refreshFailures = 0;

/** Refreshes the detail on the schedule of schedule.ts (rare far from the start, backing off during it). */
export function scheduleRefresh(delayMs: number | undefined): void {
  clearTimeout(refreshTimer);
  if (delayMs === undefined || delayMs > 2 ** 31 - 1) return;
  refreshTimer = setTimeout(() => void refreshActivity(), delayMs);
}

async function refreshActivity(): Promise<void> {
  // A hidden tab asks for nothing; it catches up when it is shown again.
  if (document.hidden) return scheduleRefresh(undefined);
  const wasLive = state.activity !== undefined && clock.now() >= Date.parse(state.activity.startAt);
  const problem = await loadActivity();
  if (problem) {
    if (problem.code === 'NOT_FOUND') return scheduleRefresh(undefined);
    refreshFailures++;
    return scheduleRefresh(retryDelay(refreshFailures, problem.retryAfter));
  }
  refreshFailures = 0;
  if (wasLive) livePolls++;
  planNextRefresh();
}

export function planNextRefresh(): void {
  const a = state.activity;
  if (!a) return;
  const soldOut = currentStatus() === 'SOLD_OUT';
  scheduleRefresh(nextActivityRefresh(clock.now(), Date.parse(a.startAt), Date.parse(a.endAt), soldOut, livePolls));
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden || !state.activity) return;
  // Shown again: one refresh soon (spread, in case many tabs wake together), then the usual plan.
  scheduleRefresh(jittered(1500));
});

export function scheduleClockResync(): void {
  setTimeout(() => {
    if (document.hidden) return scheduleClockResync();
    void clock.sync(2).then(() => {
      scheduleStart();
      scheduleClockResync();
    });
  }, jittered(CLOCK_RESYNC_MS));
}

/** The first load failed for a reason other than a missing sale: try again on the failure schedule. */
export function retryAfterFailure(problem: ApiError): void {
  scheduleRefresh(retryDelay(++refreshFailures, problem.retryAfter));
}
