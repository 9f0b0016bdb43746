/**
 * The waiting room (排队) on the product page: join the line, show the place (position, people
 * ahead, ETA, chance, a progress bar), and buy as soon as the ticket is admitted. The place lives on
 * the server, so a reload finds it again; the page asks again when the server says (`pollAfterMs`,
 * already jittered — the poll is also what keeps the place) and moves its place between polls from
 * the `queue-progress` pushes.
 */
import { $, ApiError, formatDuration, type Ticket } from '../api.ts';
import { userApi } from './identity.ts';
import { activityId, render, say, state, ui } from './page.ts';

let pollTimer: ReturnType<typeof setTimeout> | undefined;
let onAdmitted: () => void = () => {};
/** People ahead when this page first saw its place: the progress bar's 0 %. */
const firstAheadKey = () => `seckill.queue.${activityId}.${state.userId}.ahead`;

export const hasWaitingRoom = (): boolean => state.activity?.waitingRoom !== undefined;

/** What the page does once admitted (the Buy flow; set once by buying.ts). */
export function whenAdmitted(action: () => void): void {
  onAdmitted = action;
}

function schedulePoll(ms: number): void {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void refreshTicket(), ms);
}

function take(ticket: Ticket): void {
  const wasAdmitted = state.ticket?.status === 'ADMITTED' && state.ticket.pass === ticket.pass;
  state.ticket = ticket;
  if (ticket.peopleAhead !== undefined && localStorage.getItem(firstAheadKey()) === null) localStorage.setItem(firstAheadKey(), String(ticket.peopleAhead));
  if (ticket.status === 'CLOSED') {
    clearTimeout(pollTimer);
    localStorage.removeItem(firstAheadKey());
    if (ticket.reason === 'SOLD_OUT') state.soldOut = true;
  } else {
    schedulePoll(ticket.pollAfterMs);
  }
  if (ticket.status === 'ADMITTED' && !wasAdmitted) {
    say("It's your turn! Buying for you now…", 'ok');
    onAdmitted();
  }
  render();
}

/** Reads the buyer's ticket (also the heartbeat that keeps the place); none → the Join button. */
export async function refreshTicket(): Promise<void> {
  if (!state.token || !hasWaitingRoom()) return;
  try {
    const { ticket } = await userApi<{ ticket: Ticket }>('GET', `/api/v1/activities/${activityId}/queue`);
    take(ticket);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'NOT_FOUND') {
      state.ticket = undefined;
      render();
      return;
    }
    schedulePoll(error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : 3000);
  }
}

export async function joinQueue(): Promise<void> {
  try {
    const { ticket } = await userApi<{ ticket: Ticket }>('POST', `/api/v1/activities/${activityId}/queue`);
    localStorage.removeItem(firstAheadKey());
    say(ticket.status === 'CLOSED' ? '' : 'You are in line. Keep this page open; we will buy for you when it is your turn.', 'ok');
    take(ticket);
  } catch (error) {
    say(error instanceof ApiError ? error.human : String(error), 'error');
  }
}

/** A push: the line moved (the place is moved without asking) or every ticket closed. */
export function queueProgress(message: { activityId?: string; admittedTotal?: number; closed?: string }): void {
  const t = state.ticket;
  if (!t || message.activityId !== activityId) return;
  if (message.closed) {
    void refreshTicket();
    return;
  }
  if (t.status !== 'WAITING' || t.peopleAhead === undefined || message.admittedTotal === undefined) return;
  const moved = message.admittedTotal - t.admittedTotal;
  if (moved <= 0) return;
  const ahead = Math.max(0, t.peopleAhead - moved);
  state.ticket = { ...t, peopleAhead: ahead, position: ahead + 1, admittedTotal: message.admittedTotal };
  render();
}

/** A push: this buyer's ticket changed (admitted, with its pass). */
export function queueTicket(ticket: Ticket): void {
  if (ticket.activityId === activityId) take(ticket);
}

const CLOSED_TEXT: Record<string, string> = {
  SOLD_OUT: 'Sold out: every unit is sold and none can come back. You can join the waitlist below.',
  ENDED: 'The sale has ended.',
  ABANDONED: 'You lost your place because the page stopped checking in. You can join again.',
  PASS_EXPIRED: 'Your turn to buy passed unused. You can join the line again.',
  LEFT: 'You left the line.',
  BOUGHT: 'Your turn came and your order is in. See it below.',
};

export function renderQueue(): void {
  const section = $('queue');
  const t = state.ticket;
  section.hidden = !(hasWaitingRoom() && state.token && t !== undefined);
  ui.leaveQueue.hidden = !t || t.status === 'CLOSED';
  if (!t) return;
  const text = $('queue-state');
  const known = (value: number | undefined, format: (v: number) => string = String) => (value === undefined ? '–' : format(value));
  $('queue-position').textContent = known(t.position);
  $('queue-ahead').textContent = known(t.peopleAhead);
  $('queue-eta').textContent = known(t.etaSeconds, (s) => (s < 60 ? 'under a minute' : `about ${formatDuration(s * 1000)}`));
  $('queue-chance').textContent = known(t.chance, (c) => (c >= 0.995 ? 'very likely' : c < 0.005 ? 'very unlikely' : `${Math.round(c * 100)}%`));
  const firstAhead = Number(localStorage.getItem(firstAheadKey()) ?? t.peopleAhead ?? 0);
  const done = t.status === 'ADMITTED' ? 100 : firstAhead > 0 && t.peopleAhead !== undefined ? Math.round((100 * (firstAhead - t.peopleAhead)) / firstAhead) : 0;
  $('queue-bar').style.width = `${Math.max(0, Math.min(100, done))}%`;
  $('queue-bar').parentElement?.setAttribute('aria-valuenow', String(done));
  if (t.status === 'PREQUEUE') {
    text.textContent =
      t.mode === 'random'
        ? 'You are in the pre-queue. At the start everyone in it gets a random place — arriving early or often changes nothing.'
        : `You are number ${t.position ?? '?'} in line. The line starts moving at the start.`;
  } else if (t.status === 'WAITING') {
    text.textContent = `You are number ${t.position ?? '?'} in line. Keep this page open.`;
  } else if (t.status === 'ADMITTED') {
    text.textContent = "It's your turn! Buy before your pass runs out.";
  } else {
    text.textContent = CLOSED_TEXT[t.reason ?? ''] ?? 'Your place in line is closed.';
  }
  text.dataset.status = t.status;
}

ui.leaveQueue.addEventListener('click', async () => {
  try {
    await userApi('DELETE', `/api/v1/activities/${activityId}/queue`);
    clearTimeout(pollTimer);
    await refreshTicket();
    say('You left the line.');
  } catch (error) {
    say(error instanceof ApiError ? error.human : String(error), 'error');
  }
});
