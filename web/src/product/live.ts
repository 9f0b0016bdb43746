/** Live updates: the WebSocket while it is up (redialled with jittered back-off), polling while it is down. */
import type { Order, Ticket, Waitlist } from '../api.ts';
import { jittered } from '../schedule.ts';
import { refreshOrder, showOrder } from './order.ts';
import { activityId, render, say, state } from './page.ts';
import { queueProgress, queueTicket } from './queue.ts';

let socket: WebSocket | undefined;
let reconnectDelay = 1000;
/** A socket must stay up this long before a drop counts as fresh (else a server that accepts and
 * drops at once would be redialled every second by every tab). */
const STABLE_SOCKET_MS = 30_000;
/** While the page is visible it says so now and then: the server closes sockets whose client stays silent
 * (4004), which are forgotten background tabs, not this one. Well under the server's idle timeout. */
const ACTIVE_EVERY_MS = 60_000;
/** Close codes after which redialling is pointless: the user (4001) or the address (4002) holds its share of
 * sockets already. The page polls instead, as when the socket is down. */
const NO_REDIAL = new Set([4001, 4002]);
const IDLE_TIMEOUT = 4004;
let waitingForVisible = false;

export function connectSocket(): void {
  if (!state.token || socket) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?token=${encodeURIComponent(state.token)}`);
  socket = ws;
  let openedAt: number | undefined;
  ws.onopen = () => {
    state.wsOpen = true;
    openedAt = Date.now();
    // Anything that changed while we were not listening.
    void refreshOrder();
    render();
  };
  ws.onmessage = (event) => {
    let message: { type?: string; order?: Order; waitlist?: Waitlist; ticket?: Ticket; activityId?: string; admittedTotal?: number; closed?: string };
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (message.type === 'order' && message.order && message.order.activityId === activityId) showOrder(message.order);
    if (message.type === 'queue' && message.ticket) queueTicket(message.ticket);
    if (message.type === 'queue-progress') queueProgress(message);
    if (message.type === 'waitlist' && message.waitlist) {
      const w = message.waitlist as Waitlist & { activityId?: string };
      if (w.activityId === undefined || w.activityId === activityId) {
        state.waitlist = w;
        if (w.status === 'OFFERED') say('Good news: a unit came back for you. Buy it before the offer ends!', 'ok');
        render();
      }
    }
  };
  ws.onclose = (event) => {
    state.wsOpen = false;
    socket = undefined;
    render();
    if (openedAt !== undefined && Date.now() - openedAt > STABLE_SOCKET_MS) reconnectDelay = 1000;
    if (NO_REDIAL.has(event.code)) return;
    if (event.code === IDLE_TIMEOUT && document.hidden) {
      waitingForVisible = true;
      return;
    }
    if (state.token) {
      // Jittered, so a restarted server is not redialled by every tab in the same second.
      setTimeout(connectSocket, jittered(reconnectDelay));
      reconnectDelay = Math.min(30_000, reconnectDelay * 2);
    }
  };
}

setInterval(() => {
  if (socket?.readyState === WebSocket.OPEN && !document.hidden) socket.send('{"type":"active"}');
}, ACTIVE_EVERY_MS);

document.addEventListener('visibilitychange', () => {
  if (document.hidden || !waitingForVisible) return;
  waitingForVisible = false;
  connectSocket();
});

// Poll the order every second while the socket is down, and now and then anyway as a safety net.
let pollTick = 0;
setInterval(() => {
  pollTick++;
  const order = state.order;
  if (!order || !(order.status === 'QUEUED' || order.status === 'PENDING_PAYMENT')) return;
  if (!state.wsOpen || pollTick % 5 === 0) void refreshOrder();
}, 1000);

/** Signed out: the socket closes (and is not redialled without a token). */
export function disconnect(): void {
  socket?.close();
}
