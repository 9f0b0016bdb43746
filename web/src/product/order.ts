/**
 * The buyer's order in this activity: shown as it moves (never stepping back when a poll answers
 * after a push), read again on demand, paid and cancelled; and the buyer's waitlist entry, read with it.
 */
import { $, ApiError, formatDuration, formatPrice, type Order, type Waitlist } from '../api.ts';
import { loadActivity } from './activity.ts';
import { userApi } from './identity.ts';
import { activityId, clock, render, say, state, ui } from './page.ts';
import { REASON_TEXT, STATUS_TEXT } from './status.ts';

export function showOrder(order: Order): void {
  // Never step back: a poll answered before a push must not undo it.
  const rank = { QUEUED: 0, PENDING_PAYMENT: 1, PAID: 2, CANCELLED: 2, FAILED: 2 } as const;
  const current = state.order;
  if (current && current.orderId === order.orderId && rank[order.status] < rank[current.status]) return;
  if (current && current.orderId !== order.orderId && Date.parse(order.createdAt) < Date.parse(current.createdAt)) return;
  const changed = current?.orderId !== order.orderId || current.status !== order.status;
  state.order = order;
  if (order.status !== 'PENDING_PAYMENT') state.paying = false;
  // "A unit is reserved for you" is stale once the order moved on; the order card says the rest.
  if (changed && order.status !== 'QUEUED' && order.status !== 'PENDING_PAYMENT' && ui.message.dataset.kind !== 'error') say('');
  if (changed && (order.status === 'CANCELLED' || order.status === 'FAILED')) void loadActivity();
  render();
}

export function renderOrder(): void {
  const order = state.order;
  const section = $('order');
  section.hidden = order === undefined;
  if (!order) return;
  $('order-id').textContent = order.orderId;
  const badge = $('order-status');
  badge.textContent = STATUS_TEXT[order.status] ?? order.status;
  badge.dataset.status = order.status;
  $('order-amount').textContent = formatPrice(order.amountCents);
  const deadline = $('order-deadline');
  $('order-deadline-fact').hidden = order.status !== 'PENDING_PAYMENT';
  const note = $('order-note');
  if (order.status === 'PENDING_PAYMENT' && order.expiresAt) {
    const left = Date.parse(order.expiresAt) - clock.now();
    deadline.textContent = left > 0 ? formatDuration(left) : 'time is up';
    deadline.dataset.urgent = String(left < 60_000);
  } else {
    deadline.textContent = '';
  }
  if (order.status === 'QUEUED') note.textContent = 'Your unit is reserved; we are writing your order…';
  else if (order.status === 'PENDING_PAYMENT') note.textContent = state.paying ? 'Payment processing…' : 'Pay before the deadline to keep your unit.';
  else if (order.status === 'PAID') note.textContent = 'Paid. Thank you! Your item is on its way.';
  else if (order.status === 'CANCELLED') note.textContent = REASON_TEXT[order.reason ?? ''] ?? 'This order was cancelled.';
  else note.textContent = `This order could not be completed${order.reason ? ` (${order.reason})` : ''}; the unit was returned.`;
  ui.pay.hidden = order.status !== 'PENDING_PAYMENT';
  ui.pay.disabled = state.paying;
  ui.pay.textContent = state.paying ? 'Processing…' : `Pay ${formatPrice(order.amountCents)}`;
  ui.cancel.hidden = !(order.status === 'PENDING_PAYMENT' || order.status === 'QUEUED');
  ui.cancel.disabled = order.status === 'QUEUED';
  $('live-mode').textContent = state.wsOpen ? 'Live updates: connected' : 'Live updates: polling';
}

export async function refreshOrder(): Promise<void> {
  const order = state.order;
  if (!order || !state.token) return;
  try {
    const { order: fresh } = await userApi<{ order: Order }>('GET', `/api/v1/orders/${order.orderId}`);
    showOrder(fresh);
  } catch (error) {
    // QUEUED orders may not be readable for a moment; NOT_FOUND then just means "not yet".
    if (error instanceof ApiError && error.code !== 'NOT_FOUND') $('order-note').textContent = error.human;
  }
}

export async function loadMine(): Promise<void> {
  if (!state.token) return;
  try {
    const { order } = await userApi<{ order: Order }>('GET', `/api/v1/activities/${activityId}/my-order`);
    showOrder(order);
  } catch {
    // 404: no order yet
  }
  try {
    const { waitlist } = await userApi<{ waitlist: Waitlist }>('GET', `/api/v1/activities/${activityId}/waitlist`);
    state.waitlist = waitlist;
    render();
  } catch {
    // 404: not waiting (or the waitlist is not offered by this server)
  }
}

ui.pay.addEventListener('click', async () => {
  const order = state.order;
  if (!order) return;
  state.paying = true;
  render();
  try {
    await userApi('POST', `/api/v1/orders/${order.orderId}/pay`);
    $('order-note').textContent = 'Payment processing…';
    void refreshOrder();
  } catch (error) {
    state.paying = false;
    render();
    $('order-note').textContent = error instanceof ApiError ? error.human : String(error);
    void refreshOrder();
  }
});

ui.cancel.addEventListener('click', async () => {
  const order = state.order;
  if (!order) return;
  ui.cancel.disabled = true;
  try {
    const { order: cancelled } = await userApi<{ order: Order }>('POST', `/api/v1/orders/${order.orderId}/cancel`);
    showOrder(cancelled);
  } catch (error) {
    $('order-note').textContent = error instanceof ApiError ? error.human : String(error);
    void refreshOrder();
  }
});
