/**
 * The product page `/activities/{id}`: the commodity, a countdown on the server's clock, and the
 * whole buying journey — anti-bot check, purchase with retries, live order status, payment,
 * cancellation and the waitlist.
 */
import {
  $,
  type ActivityStatus,
  ApiError,
  api,
  type Challenge,
  formatDuration,
  formatPrice,
  humanMessage,
  type Order,
  type PublicActivity,
  sleep,
  type Waitlist,
} from './api.ts';
import { ServerClock } from './clock.ts';
import { CLOCK_RESYNC_MS, challengeDelay, jittered, nextActivityRefresh, retryDelay } from './schedule.ts';

declare const __CHALLENGE_WORKER_URL__: string;

const activityId = /^\/activities\/([1-9][0-9]{0,19})\/?$/.exec(location.pathname)?.[1] ?? '';
const clock = new ServerClock();

const ui = {
  buy: $('buy') as HTMLButtonElement,
  pay: $('pay') as HTMLButtonElement,
  cancel: $('cancel') as HTMLButtonElement,
  join: $('join-waitlist') as HTMLButtonElement,
  leave: $('leave-waitlist') as HTMLButtonElement,
  message: $('message'),
  countdown: $('countdown'),
  status: $('status'),
  remaining: $('remaining'),
  soldPercent: $('sold-percent'),
  soldBar: $('sold-bar'),
  startTime: $('start-time'),
  progress: $('challenge-progress') as HTMLProgressElement,
  progressText: $('challenge-text'),
};

const state: {
  activity: PublicActivity | undefined;
  token: string | undefined;
  userId: string | undefined;
  order: Order | undefined;
  waitlist: Waitlist | undefined;
  /** Set by a SOLD_OUT answer, so the button does not wait for the (cached) detail to catch up. */
  soldOut: boolean;
  busy: boolean;
  paying: boolean;
  wsOpen: boolean;
  /** A challenge fetched and being solved before the start, so the Buy click does not wait for it. */
  presolved: Promise<Solved> | undefined;
} = {
  activity: undefined,
  token: localStorage.getItem('seckill.token') ?? undefined,
  userId: localStorage.getItem('seckill.userId') ?? undefined,
  order: undefined,
  waitlist: undefined,
  soldOut: false,
  busy: false,
  paying: false,
  wsOpen: false,
  presolved: undefined,
};

interface Solved {
  challengeId: string;
  nonce: string;
  expiresAtMs: number;
}

function say(text: string, kind: 'info' | 'error' | 'ok' = 'info'): void {
  ui.message.textContent = text;
  ui.message.dataset.kind = kind;
}

// ---- what the activity looks like right now (server clock) -------------------------------------

function currentStatus(): ActivityStatus | undefined {
  const a = state.activity;
  if (!a) return undefined;
  const now = clock.now();
  if (now >= Date.parse(a.endAt)) return 'ENDED';
  if (now < Date.parse(a.startAt)) return 'UPCOMING';
  if (state.soldOut || a.remaining <= 0 || a.status === 'SOLD_OUT') return 'SOLD_OUT';
  return 'LIVE';
}

const ACTIVE: ReadonlyArray<Order['status']> = ['QUEUED', 'PENDING_PAYMENT', 'PAID'];
const STATUS_TEXT: Record<string, string> = {
  UPCOMING: 'Coming soon',
  LIVE: 'On sale',
  SOLD_OUT: 'Sold out',
  ENDED: 'Ended',
  QUEUED: 'Reserved — confirming…',
  PENDING_PAYMENT: 'Awaiting payment',
  PAID: 'Paid',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
};
const REASON_TEXT: Record<string, string> = {
  USER_CANCELLED: 'You cancelled this order; the unit went back on sale.',
  PAYMENT_FAILED: 'The payment failed, so the order was cancelled.',
  PAYMENT_TIMEOUT: 'The payment deadline passed, so the order was cancelled.',
};

function offerOpen(): boolean {
  const w = state.waitlist;
  return w?.status === 'OFFERED' && (!w.offerExpiresAt || Date.parse(w.offerExpiresAt) > clock.now());
}

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
  else if (status === 'UPCOMING') label = 'Not started yet';
  else if (status === 'SOLD_OUT' && !offerOpen()) label = 'Sold out';
  else {
    enabled = true;
    if (status === 'SOLD_OUT') label = 'Buy your offered unit';
  }
  ui.buy.disabled = !enabled;
  ui.buy.textContent = label;

  const waitlistSection = $('waitlist');
  waitlistSection.hidden = !(state.token && (status === 'SOLD_OUT' || state.waitlist) && !holding);
  renderWaitlist();
  renderOrder();
}

/** An absolute time in the buyer's own time zone, named, e.g. "Sat, Nov 22, 09:15:00 GMT+8". */
function formatWhen(iso: string): string {
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}

let startTimer: ReturnType<typeof setTimeout> | undefined;
/** A timer for the exact start instant, so the button does not wait for the next tick. */
function scheduleStart(): void {
  if (!state.activity) return;
  clearTimeout(startTimer);
  const wait = clock.toLocal(Date.parse(state.activity.startAt)) - Date.now();
  if (wait > 0 && wait < 2 ** 31 - 1) startTimer = setTimeout(render, wait);
}

/** Fetches the detail; resolves with the error when it could not (after saying why, on first load). */
async function loadActivity(): Promise<ApiError | undefined> {
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

function showNoSuchSale(): void {
  document.title = 'Sale not found · Flash sale';
  $('name').textContent = 'We could not find that sale';
  $('description').textContent = 'The link may be mistyped, or the sale may have been removed. Check the link you were sent.';
  for (const id of ['facts', 'buy', 'countdown', 'start-time']) $(id).hidden = true;
  say('');
}

// ---- sign-in --------------------------------------------------------------------------------------

function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

function signedIn(token: string, userId: string): void {
  state.token = token;
  state.userId = userId;
  localStorage.setItem('seckill.token', token);
  localStorage.setItem('seckill.userId', userId);
  renderIdentity();
  connectSocket();
  void loadMine();
  schedulePresolve();
}

function renderIdentity(): void {
  $('signin').hidden = state.token !== undefined;
  $('whoami').hidden = state.token === undefined;
  $('whoami-name').textContent = state.userId ?? '';
  render();
}

$('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const userId = ($('user-id') as HTMLInputElement).value.trim();
  try {
    const { token } = await api<{ token: string }>('POST', '/api/v1/dev/token', { body: { userId } });
    say(`Welcome, ${userId}.`, 'ok');
    signedIn(token, userId);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'NOT_FOUND') {
      say('Dev sign-in is turned off on this server. Paste a token you were given instead.', 'error');
      ($('signin').querySelector('details') as HTMLDetailsElement).open = true;
    } else {
      say(error instanceof ApiError ? error.human : String(error), 'error');
    }
  }
});

$('use-token').addEventListener('click', () => {
  const token = ($('token-input') as HTMLInputElement).value.trim();
  const userId = subjectOf(token);
  if (!userId) return say('That does not look like a sign-in token.', 'error');
  signedIn(token, userId);
});

$('signout').addEventListener('click', () => {
  localStorage.removeItem('seckill.token');
  localStorage.removeItem('seckill.userId');
  state.token = undefined;
  state.userId = undefined;
  state.order = undefined;
  state.waitlist = undefined;
  state.presolved = undefined;
  clearTimeout(presolveTimer);
  socket?.close();
  renderIdentity();
});

/** A call as the signed-in user; a 401 signs out (the token expired or the secret changed). */
async function userApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await api<T>(method, path, { token: state.token, body });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHORIZED') {
      localStorage.removeItem('seckill.token');
      state.token = undefined;
      renderIdentity();
    }
    throw error;
  }
}

// ---- buying ---------------------------------------------------------------------------------------

const requestKey = () => `seckill.request.${activityId}.${state.userId}`;

/** Fetches a challenge and solves it in a worker, showing the progress. */
async function solveChallenge(): Promise<Solved> {
  const { challenge } = await userApi<{ challenge: Challenge }>('POST', `/api/v1/activities/${activityId}/challenge`);
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
function schedulePresolve(): void {
  clearTimeout(presolveTimer);
  const a = state.activity;
  if (!a || a.antiBot !== 'challenge' || !state.token || state.presolved) return;
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
async function takeChallenge(): Promise<{ challengeId: string; nonce: string }> {
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
        const accepted = await userApi<{ orderId: string; status: Order['status'] }>('POST', `/api/v1/activities/${activityId}/purchase`, {
          requestId,
          quantity: 1,
          ...(challenge ? { challenge } : {}),
        });
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
          case 'SOLD_OUT':
            state.soldOut = true;
            done();
            break;
          case 'LIMIT_EXCEEDED':
            done();
            void loadMine();
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

ui.buy.addEventListener('click', () => void buy());

// ---- the order ------------------------------------------------------------------------------------

function showOrder(order: Order): void {
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

function renderOrder(): void {
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

async function refreshOrder(): Promise<void> {
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

async function loadMine(): Promise<void> {
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

// ---- the waitlist ---------------------------------------------------------------------------------

function renderWaitlist(): void {
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

// ---- live updates: WebSocket, polling while it is down --------------------------------------------

let socket: WebSocket | undefined;
let reconnectDelay = 1000;
/** A socket must stay up this long before a drop counts as fresh (else a server that accepts and
 * drops at once would be redialled every second by every tab). */
const STABLE_SOCKET_MS = 30_000;

function connectSocket(): void {
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
    let message: { type?: string; order?: Order; waitlist?: Waitlist };
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (message.type === 'order' && message.order && message.order.activityId === activityId) showOrder(message.order);
    if (message.type === 'waitlist' && message.waitlist) {
      const w = message.waitlist as Waitlist & { activityId?: string };
      if (w.activityId === undefined || w.activityId === activityId) {
        state.waitlist = w;
        if (w.status === 'OFFERED') say('Good news: a unit came back for you. Buy it before the offer ends!', 'ok');
        render();
      }
    }
  };
  ws.onclose = () => {
    state.wsOpen = false;
    socket = undefined;
    render();
    if (openedAt !== undefined && Date.now() - openedAt > STABLE_SOCKET_MS) reconnectDelay = 1000;
    if (state.token) {
      // Jittered, so a restarted server is not redialled by every tab in the same second.
      setTimeout(connectSocket, jittered(reconnectDelay));
      reconnectDelay = Math.min(30_000, reconnectDelay * 2);
    }
  };
}

// Poll the order every second while the socket is down, and now and then anyway as a safety net.
let pollTick = 0;
setInterval(() => {
  pollTick++;
  const order = state.order;
  if (!order || !(order.status === 'QUEUED' || order.status === 'PENDING_PAYMENT')) return;
  if (!state.wsOpen || pollTick % 5 === 0) void refreshOrder();
}, 1000);

// ---- start ----------------------------------------------------------------------------------------

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let livePolls = 0;
let refreshFailures = 0;

/** Refreshes the detail on the schedule of schedule.ts (rare far from the start, backing off during it). */
function scheduleRefresh(delayMs: number | undefined): void {
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

function planNextRefresh(): void {
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

function scheduleClockResync(): void {
  setTimeout(() => {
    if (document.hidden) return scheduleClockResync();
    void clock.sync(2).then(() => {
      scheduleStart();
      scheduleClockResync();
    });
  }, jittered(CLOCK_RESYNC_MS));
}

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
  if (problem) scheduleRefresh(retryDelay(++refreshFailures, problem.retryAfter));
  else planNextRefresh();
  void loadMine();
  setInterval(render, 200);
  scheduleClockResync();
}

void main();
