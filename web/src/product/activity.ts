/**
 * The activity as the page knows it: loaded from the public detail (a cached answer that may lag a
 * moment), the timer that enables the button at the exact start, and the page for an unknown sale.
 */
import { $, ApiError, api, formatPrice, type PublicActivity } from '../api.ts';
import { schedulePresolve } from './challenge.ts';
import { activityId, clock, render, say, state } from './page.ts';

let startTimer: ReturnType<typeof setTimeout> | undefined;
/** A timer for the exact start instant, so the button does not wait for the next tick. */
export function scheduleStart(): void {
  if (!state.activity) return;
  clearTimeout(startTimer);
  const wait = clock.toLocal(Date.parse(state.activity.startAt)) - Date.now();
  if (wait > 0 && wait < 2 ** 31 - 1) startTimer = setTimeout(render, wait);
}

/** Fetches the detail; resolves with the error when it could not (after saying why, on first load). */
export async function loadActivity(): Promise<ApiError | undefined> {
  try {
    const { activity } = await api<{ activity: PublicActivity }>('GET', `/api/v1/activities/${activityId}`);
    const first = state.activity === undefined;
    const previousStart = state.activity?.startAt;
    state.activity = activity;
    // The detail is cached and may lag; a sold-out we saw ourselves wins until units reappear.
    if (activity.remaining > 0 && activity.status !== 'SOLD_OUT') state.soldOut = false;
    if (first) {
      document.title = `${activity.commodity.name} · Flash sale`;
      $('name').textContent = activity.commodity.name;
      $('description').textContent = activity.commodity.description ?? '';
      $('category').textContent = [activity.name, activity.commodity.category].filter(Boolean).join(' · ');
      $('price').textContent = formatPrice(activity.priceCents);
      const original = activity.commodity.priceCents;
      if (original > activity.priceCents) {
        const was = $('original-price');
        was.textContent = formatPrice(original);
        was.setAttribute('aria-label', `was ${formatPrice(original)}`);
        was.hidden = false;
        $('discount').textContent = `−${Math.round((100 * (original - activity.priceCents)) / original)}%`;
        $('discount').hidden = false;
      }
      $('limit').textContent = `${activity.limitPerUser} max`;
      scheduleStart();
      schedulePresolve();
    } else if (Date.parse(activity.startAt) !== Date.parse(previousStart ?? activity.startAt)) {
      // The operator moved the start: re-aim the timers that depend on it.
      scheduleStart();
      schedulePresolve();
    }
    render();
    return undefined;
  } catch (error) {
    if (error instanceof ApiError && (error.code === 'NOT_FOUND' || (error.code === 'INVALID_REQUEST' && state.activity === undefined))) {
      showNoSuchSale();
    } else if (state.activity === undefined) {
      say(error instanceof ApiError ? error.human : String(error), 'error');
    }
    return error instanceof ApiError ? error : new ApiError('NETWORK', 0, String(error));
  }
}

export function showNoSuchSale(): void {
  document.title = 'Sale not found · Flash sale';
  $('name').textContent = 'We could not find that sale';
  $('description').textContent = 'The link may be mistyped, or the sale may have been removed. Check the link you were sent.';
  for (const id of ['facts', 'buy', 'countdown', 'start-time']) $(id).hidden = true;
  say('');
}
