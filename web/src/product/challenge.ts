/**
 * The anti-bot proof of work of a challenge activity: fetched and solved in a worker, ahead of the
 * start when possible, so the click at the start sends a solved challenge at once.
 */
import { $, type Challenge } from '../api.ts';
import { challengeDelay } from '../schedule.ts';
import { userApi } from './identity.ts';
import { activityId, clock, type Solved, state, ui } from './page.ts';

declare const __CHALLENGE_WORKER_URL__: string;

/** Fetches a challenge and solves it in a worker, showing the progress. */
async function solveChallenge(): Promise<Solved> {
  const pass = state.ticket?.pass;
  const { challenge } = await userApi<{ challenge: Challenge }>('POST', `/api/v1/activities/${activityId}/challenge`, undefined, pass ? { 'x-seckill-pass': pass } : undefined);
  const panel = $('challenge');
  panel.hidden = false;
  panel.dataset.state = 'solving';
  ui.progress.value = 0;
  ui.progressText.textContent = `Solving (difficulty ${challenge.difficulty})…`;
  const worker = new Worker(__CHALLENGE_WORKER_URL__);
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent) => {
        const m = event.data as { type: string; attempts: number; rate: number; expected: number; nonce: string; ms: number; message: string };
        if (m.type === 'progress') {
          // The number of tries is random; this is progress against the expected count, capped.
          ui.progress.value = Math.min(95, (100 * m.attempts) / m.expected);
          ui.progressText.textContent = `Solving… ${m.attempts.toLocaleString()} tries (${Math.round(m.rate / 1000)}k/s)`;
        } else if (m.type === 'done') {
          ui.progress.value = 100;
          panel.dataset.state = 'done';
          ui.progressText.textContent = `Check passed after ${m.attempts.toLocaleString()} tries in ${(m.ms / 1000).toFixed(1)} s`;
          resolve({ challengeId: challenge.challengeId, nonce: m.nonce, expiresAtMs: Date.parse(challenge.expiresAt) });
        } else {
          reject(new Error(m.message));
        }
      };
      worker.onerror = (event) => reject(new Error(event.message || 'the anti-bot worker failed'));
      worker.postMessage({ prefix: challenge.prefix, difficulty: challenge.difficulty });
    });
  } finally {
    worker.terminate();
  }
}

let presolveTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * Challenges are issued from 30 s before the start: fetch and solve one then (at a random moment,
 * so the crowd's requests spread over ~17 s), and the click at the start sends it at once instead of
 * solving while everyone else is already buying.
 */
export function schedulePresolve(): void {
  clearTimeout(presolveTimer);
  const a = state.activity;
  // Behind a waiting room a challenge needs the pass: it is fetched once admitted.
  if (!a || a.antiBot !== 'challenge' || a.waitingRoom || !state.token || state.presolved) return;
  const delay = challengeDelay(clock.now(), Date.parse(a.startAt));
  if (delay === undefined || delay > 2 ** 31 - 1) return;
  presolveTimer = setTimeout(() => {
    if (!state.token || state.presolved) return;
    const solving = solveChallenge();
    state.presolved = solving;
    solving.catch(() => {
      // The click will fetch and solve one itself.
      if (state.presolved === solving) state.presolved = undefined;
      $('challenge').hidden = true;
    });
  }, delay);
}

/** A solved challenge for the purchase: the pre-solved one while it is still valid, else a fresh one. */
export async function takeChallenge(): Promise<{ challengeId: string; nonce: string }> {
  const ready = state.presolved;
  state.presolved = undefined; // single use, whatever the purchase answers
  if (ready) {
    const solved = await ready.catch(() => undefined);
    // A margin for the request's own trip: an expired one costs a CHALLENGE_FAILED round trip.
    if (solved && solved.expiresAtMs - 5_000 > clock.now()) return { challengeId: solved.challengeId, nonce: solved.nonce };
  }
  const { challengeId, nonce } = await solveChallenge();
  return { challengeId, nonce };
}

/** Signed out: a challenge solved for this user is of no use to the next. */
export function forgetPresolved(): void {
  state.presolved = undefined;
  clearTimeout(presolveTimer);
}
