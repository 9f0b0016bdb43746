/** The waitlist (候补): the buyer's place or offer, joining while sold out, and leaving. */
import { $, ApiError, formatDuration, type Waitlist } from '../api.ts';
import { userApi } from './identity.ts';
import { activityId, clock, render, say, state, ui } from './page.ts';

export function renderWaitlist(): void {
  const w = state.waitlist;
  const text = $('waitlist-state');
  ui.join.hidden = w !== undefined && w.status !== 'EXPIRED';
  ui.leave.hidden = w === undefined || w.status === 'EXPIRED';
  if (!w) {
    text.textContent = '';
  } else if (w.status === 'WAITING') {
    text.textContent = w.position === undefined ? 'You are on the waitlist.' : `You are number ${w.position} on the waitlist.`;
  } else if (w.status === 'OFFERED') {
    const left = w.offerExpiresAt ? Date.parse(w.offerExpiresAt) - clock.now() : undefined;
    text.textContent =
      left === undefined
        ? 'A unit came back and it is yours to buy — press Buy now!'
        : left > 0
          ? `A unit came back and it is yours for ${formatDuration(left)} — press Buy now!`
          : 'Your offer has expired.';
  } else {
    text.textContent = 'Your offer expired and passed to the next buyer. You can join again.';
  }
  text.dataset.status = w?.status ?? '';
}

ui.join.addEventListener('click', async () => {
  ui.join.disabled = true;
  try {
    const { waitlist } = await userApi<{ waitlist: Waitlist }>('POST', `/api/v1/activities/${activityId}/waitlist`);
    state.waitlist = waitlist;
    say('You joined the waitlist. We will tell you here if a unit comes back.', 'ok');
  } catch (error) {
    say(error instanceof ApiError ? error.human : String(error), 'error');
  } finally {
    ui.join.disabled = false;
    render();
  }
});

ui.leave.addEventListener('click', async () => {
  try {
    await userApi('DELETE', `/api/v1/activities/${activityId}/waitlist`);
    state.waitlist = undefined;
    say('You left the waitlist.');
  } catch (error) {
    say(error instanceof ApiError ? error.human : String(error), 'error');
  }
  render();
});
