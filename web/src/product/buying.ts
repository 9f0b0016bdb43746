/**
 * The Buy button: one requestId per purchase attempt, kept across retries and reloads until a
 * definite answer, so a retry after a lost response can never reserve a second unit; retries on
 * the answers that ask for one (429, 503, a network error), honouring Retry-After.
 */
import { ApiError, humanMessage, type Order, sleep } from '../api.ts';
import { loadActivity, scheduleStart } from './activity.ts';
import { takeChallenge } from './challenge.ts';
import { userApi } from './identity.ts';
import { loadMine, refreshOrder, showOrder } from './order.ts';
import { activityId, clock, render, say, state, ui } from './page.ts';
import { hasWaitingRoom, joinQueue, refreshTicket, whenAdmitted } from './queue.ts';

const requestKey = () => `seckill.request.${activityId}.${state.userId}`;

/** Waits `seconds`, counting down in the message line. */
async function backOff(seconds: number, why: string): Promise<void> {
  for (let left = Math.ceil(seconds); left > 0; left--) {
    say(`${why} Retrying in ${left} s…`);
    await sleep(1000);
  }
}

async function buy(): Promise<void> {
  if (!state.token || state.busy) return;
  state.busy = true;
  render();
  // One requestId per purchase attempt, kept across retries (and reloads) until a definite
  // answer: a retry after a lost response can then never reserve a second unit.
  let requestId = localStorage.getItem(requestKey());
  if (!requestId) {
    requestId = crypto.randomUUID();
    localStorage.setItem(requestKey(), requestId);
  }
  const done = () => localStorage.removeItem(requestKey());
  let needsChallenge = state.activity?.antiBot === 'challenge';
  let challengeFailures = 0;
  try {
    for (let attempt = 1; attempt <= 12; attempt++) {
      try {
        const challenge = needsChallenge ? await takeChallenge() : undefined;
        say('Sending your order…');
        const pass = state.ticket?.pass;
        const accepted = await userApi<{ orderId: string; status: Order['status'] }>(
          'POST',
          `/api/v1/activities/${activityId}/purchase`,
          { requestId, quantity: 1, ...(challenge ? { challenge } : {}) },
          pass ? { 'x-seckill-pass': pass } : undefined,
        );
        done();
        say('Got it! A unit is reserved for you.', 'ok');
        showOrder({
          orderId: accepted.orderId,
          activityId,
          userId: state.userId ?? '',
          quantity: 1,
          amountCents: state.activity?.priceCents ?? 0,
          status: accepted.status,
          createdAt: new Date().toISOString(),
        });
        void refreshOrder();
        // Only winners ask (at most one per unit): "units left" then includes their own.
        void loadActivity();
        return;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        switch (error.code) {
          case 'RATE_LIMITED':
          case 'BUSY':
          case 'NETWORK':
          case 'INTERNAL':
          case 'NOT_READY':
            await backOff(error.retryAfter ?? Math.min(8, 2 ** (attempt - 1)), humanMessage(error.code).replace(/ Retrying shortly…$/, ''));
            continue;
          case 'CHALLENGE_REQUIRED':
            needsChallenge = true;
            continue;
          case 'CHALLENGE_FAILED':
            if (++challengeFailures > 2) break;
            continue;
          case 'PASS_REQUIRED':
          case 'PASS_INVALID':
          case 'PASS_EXPIRED':
            // The line decides when this buyer may buy: show where they stand in it.
            void refreshTicket();
            break;
          case 'SOLD_OUT':
            state.soldOut = true;
            done();
            break;
          case 'LIMIT_EXCEEDED':
            done();
            void loadMine();
            break;
          case 'PAUSED':
            // The operator paused the sale: fetch it again, so the page says so (and the button waits).
            void loadActivity();
            break;
          case 'NOT_STARTED':
            // Our clock estimate was early: resync; the button comes back at the real start.
            void clock.sync().then(scheduleStart);
            break;
          default:
            done();
        }
        say(error.human, 'error');
        return;
      }
    }
    say('The shop is too busy right now. Please try again in a little while.', 'error');
  } catch (error) {
    say(error instanceof Error ? error.message : String(error), 'error');
  } finally {
    state.busy = false;
    render();
  }
}

ui.buy.addEventListener('click', () => {
  // With a waiting room the button joins the line until the ticket is admitted.
  if (hasWaitingRoom() && state.ticket?.status !== 'ADMITTED' && !(state.ticket?.status === 'CLOSED' && state.ticket.reason === 'SOLD_OUT')) void joinQueue();
  else void buy();
});
// Admitted: straight to buying, no second click.
whenAdmitted(() => void buy());
