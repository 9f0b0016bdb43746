/**
 * The product page `/activities/{id}`: the commodity, a countdown on the server's clock, and the
 * whole buying journey — anti-bot check, purchase with retries, live order status, payment,
 * cancellation and the waitlist. Each part lives in product/ (one banner of the page each); this
 * entry draws the page from their state and starts it.
 */
import { $, formatDuration } from './api.ts';
import { loadActivity, showNoSuchSale } from './product/activity.ts';
import './product/buying.ts';
import { renderIdentity } from './product/identity.ts';
import { connectSocket } from './product/live.ts';
import { loadMine, renderOrder } from './product/order.ts';
import { activityId, clock, setRenderer, state, ui } from './product/page.ts';
import { planNextRefresh, retryAfterFailure, scheduleClockResync } from './product/refresh.ts';
import './product/session.ts';
import { ACTIVE, currentStatus, formatWhen, offerOpen, STATUS_TEXT } from './product/status.ts';
import { hasWaitingRoom, refreshTicket, renderQueue } from './product/queue.ts';
import { renderWaitlist } from './product/waitlist.ts';

/** Everything time-dependent; runs every 200 ms and exactly at the start. */
function render(): void {
  const a = state.activity;
  if (!a) return;
  const now = clock.now();
  const status = currentStatus() ?? a.status;
  ui.status.textContent = STATUS_TEXT[status] ?? status;
  ui.status.dataset.status = status;
  const remaining = status === 'UPCOMING' ? a.remaining : state.soldOut ? 0 : a.remaining;
  ui.remaining.textContent = a.stock === undefined ? String(remaining) : `${remaining} of ${a.stock}`;
  if (a.stock !== undefined && a.stock > 0) {
    const sold = Math.min(100, Math.max(0, Math.floor((100 * (a.stock - remaining)) / a.stock)));
    ui.soldPercent.textContent = `${sold}% sold`;
    ui.soldBar.style.width = `${sold}%`;
    ui.soldBar.parentElement?.setAttribute('aria-valuenow', String(sold));
  }

  const startIn = Date.parse(a.startAt) - now;
  if (status === 'UPCOMING') {
    ui.countdown.textContent = `Starts in ${formatDuration(startIn)}`;
    ui.startTime.textContent = `Starts ${formatWhen(a.startAt)}`;
  } else if (status === 'LIVE') {
    ui.countdown.textContent = `Ends in ${formatDuration(Date.parse(a.endAt) - now)}`;
    ui.startTime.textContent = `Started ${formatWhen(a.startAt)} · ends ${formatWhen(a.endAt)}`;
  } else {
    ui.countdown.textContent = '';
    ui.startTime.textContent = status === 'ENDED' ? `Ended ${formatWhen(a.endAt)}` : `Started ${formatWhen(a.startAt)}`;
  }

  const holding = state.order !== undefined && ACTIVE.includes(state.order.status);
  let label = 'Buy now';
  let enabled = false;
  if (!state.token) label = 'Sign in to buy';
  else if (state.busy) label = 'Working…';
  else if (holding) label = 'You have an order';
  else if (status === 'ENDED') label = 'Sale ended';
  else if (status === 'UPCOMING' && !hasWaitingRoom()) label = 'Not started yet';
  else if (status === 'PAUSED') label = 'Sale paused';
  else if (status === 'SOLD_OUT' && !offerOpen()) label = 'Sold out';
  else if (hasWaitingRoom() && !offerOpen() && state.ticket?.status !== 'ADMITTED') {
    // The line decides who buys: the button joins it (from when the pre-queue opens).
    const t = state.ticket;
    const opens = Date.parse(a.waitingRoom?.prequeueOpensAt ?? a.startAt);
    if (t?.status === 'PREQUEUE' || t?.status === 'WAITING') label = 'Waiting in line…';
    else if (status === 'UPCOMING' && now < opens) label = 'Not started yet';
    else {
      enabled = true;
      label = t?.status === 'CLOSED' ? 'Join the line again' : 'Join the line';
    }
  } else if (status === 'UPCOMING') label = 'Not started yet';
  else {
    enabled = true;
    if (status === 'SOLD_OUT') label = 'Buy your offered unit';
  }
  ui.buy.disabled = !enabled;
  ui.buy.textContent = label;

  const waitlistSection = $('waitlist');
  waitlistSection.hidden = !(state.token && (status === 'SOLD_OUT' || state.waitlist) && !holding);
  renderQueue();
  renderWaitlist();
  renderOrder();
}

setRenderer(render);

async function main(): Promise<void> {
  if (!activityId) {
    showNoSuchSale();
    return;
  }
  if (state.token && state.userId) {
    renderIdentity();
    connectSocket();
  } else {
    renderIdentity();
  }
  await clock.sync();
  const problem = await loadActivity();
  if (problem?.code === 'NOT_FOUND' || (problem && state.activity === undefined && problem.code === 'INVALID_REQUEST')) return;
  if (problem) retryAfterFailure(problem);
  else planNextRefresh();
  void loadMine();
  // The place lives on the server: a reload finds it again.
  void refreshTicket();
  setInterval(render, 200);
  scheduleClockResync();
}

void main();
