/**
 * The operator dashboard `/admin`: create commodities and activities (validated like the API, the
 * commodity picked from a list), run sales (status, edit, pause/resume, end early), watch one sale
 * live — stock, orders, requests/s, p99, queue lag, dead letters — from the SSE feed
 * `GET /api/v1/admin/activities/{id}/live`, with uPlot charts, and read the audit log. Times are shown
 * and entered in the operator's own time zone, always named, and sent to the API as UTC.
 */
import uPlot from 'uplot';
import { $, ApiError, api, formatPrice } from './api.ts';
import { buckets, byLabel, diff, parseProm, quantile, type Sample } from './prom.ts';

const TOKEN_KEY = 'seckill.adminToken';
const OPERATOR_KEY = 'seckill.operator';
let token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
/** The operator's name, sent as X-Seckill-Actor so the audit log says who did what (the token is shared). */
let operator = sessionStorage.getItem(OPERATOR_KEY) ?? '';

function say(text: string, kind: 'info' | 'error' | 'ok' = 'info'): void {
  const m = $('message');
  m.textContent = text;
  m.dataset.kind = kind;
}

const errorText = (error: unknown) => (error instanceof ApiError ? `${error.human} (${error.code}: ${error.message})` : String(error));

async function adminApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await api<T>(method, path, { token, body, headers: operator ? { 'x-seckill-actor': operator } : {} });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHORIZED') {
      sessionStorage.removeItem(TOKEN_KEY);
      token = undefined;
      renderToken();
      say('The admin token was not accepted. Please enter it again.', 'error');
    }
    throw error;
  }
}

// ---- token ----------------------------------------------------------------------------------------

function renderToken(): void {
  $('token-form').hidden = token !== undefined;
  $('token-ok').hidden = token === undefined;
  $('whoami-operator').textContent = operator || 'admin';
}

/** The same rule as the API's X-Seckill-Actor check. */
const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,39}$/;

$('token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = ($('operator-name') as HTMLInputElement).value.trim();
  if (name !== '' && !OPERATOR_NAME.test(name)) {
    say('Your name may use letters, digits, space and . _ @ - (at most 40 characters).', 'error');
    return;
  }
  operator = name;
  sessionStorage.setItem(OPERATOR_KEY, operator);
  token = ($('admin-token') as HTMLInputElement).value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  renderToken();
  if (await loadActivities()) say(`Signed in as ${operator || 'admin'}.`, 'ok');
  void loadAll();
});

/** Everything the page lists, after sign-in and after each change. */
function loadAll(): Promise<unknown> {
  return Promise.all([loadCommodities(), loadRefunds(), loadAudit()]);
}

$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = undefined;
  stopLive();
  renderToken();
});

// ---- forms (same rules as the API's schemas) ------------------------------------------------------

type Check = (value: string) => string | undefined;
const required: Check = (v) => (v.trim() === '' ? 'Required.' : undefined);
const maxLen =
  (n: number): Check =>
  (v) =>
    v.length > n ? `At most ${n} characters.` : undefined;
const intRange =
  (min: number, max: number): Check =>
  (v) =>
    /^\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max ? undefined : `A whole number from ${min} to ${max.toLocaleString()}.`;
const money: Check = (v) => (/^\d{1,10}(\.\d{1,2})?$/.test(v.trim()) ? undefined : 'An amount like 9.90 (at most 2 decimals).');
const toCents = (v: string) => Math.round(Number(v.trim()) * 100);

/** Runs each field's checks, marks the invalid ones (aria-invalid + message); true when all pass. */
function validate(form: HTMLFormElement, rules: Record<string, Check[]>, extra?: () => [string, string] | undefined): boolean {
  let ok = true;
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const [name, checks] of Object.entries(rules)) {
    const input = form.elements.namedItem(name) as HTMLInputElement;
    const problem = checks.map((check) => check(input.value)).find((p) => p !== undefined);
    input.setAttribute('aria-invalid', String(problem !== undefined));
    if (problem) {
      ok = false;
      const note = document.createElement('span');
      note.className = 'field-error';
      note.id = `${form.id}-${name}-error`;
      note.textContent = problem;
      input.setAttribute('aria-describedby', note.id);
      input.after(note);
    }
  }
  const cross = extra?.();
  if (cross) {
    ok = false;
    const input = form.elements.namedItem(cross[0]) as HTMLInputElement;
    input.setAttribute('aria-invalid', 'true');
    const note = document.createElement('span');
    note.className = 'field-error';
    note.textContent = cross[1];
    input.after(note);
  }
  return ok;
}

const field = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();

$('commodity-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  if (!validate(form, { name: [required, maxLen(200)], price: [required, money], category: [maxLen(100)], description: [maxLen(10_000)] })) return;
  const out = $('commodity-result');
  try {
    const { commodity } = await adminApi<{ commodity: { id: string; name: string; priceCents: number } }>('POST', '/api/v1/admin/commodities', {
      name: field(form, 'name'),
      priceCents: toCents(field(form, 'price')),
      description: field(form, 'description') || undefined,
      category: field(form, 'category') || undefined,
    });
    out.textContent = `Created commodity ${commodity.id} “${commodity.name}” at ${formatPrice(commodity.priceCents)}.`;
    out.dataset.kind = 'ok';
    await loadCommodities(commodity.id);
    void loadAudit();
  } catch (error) {
    out.textContent = errorText(error);
    out.dataset.kind = 'error';
  }
});

/** datetime-local (the operator's local time) → ISO UTC. */
const localToIso = (v: string) => new Date(v).toISOString();

/** The browser's time zone, named, with its UTC offset now: "Asia/Shanghai, UTC+08:00". */
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
function utcOffset(ms = Date.now()): string {
  const minutes = -new Date(ms).getTimezoneOffset();
  const abs = Math.abs(minutes);
  return `UTC${minutes < 0 ? '−' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
const zoneLabel = () => `${ZONE}, ${utcOffset()}`;
/** A time as the operator reads it: local date and time with the zone's name, never a bare clock. */
const TIME_FORMAT: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' };
const formatTime = (iso: string) => new Date(iso).toLocaleString(undefined, TIME_FORMAT);

/** Under each date input: what the API will receive, in UTC, so a wrong zone shows before saving. */
function echoUtc(form: HTMLFormElement): void {
  for (const echo of form.querySelectorAll<HTMLElement>('.utc-echo')) {
    const input = form.elements.namedItem(echo.dataset.for ?? '') as HTMLInputElement | null;
    const ms = input ? Date.parse(input.value) : Number.NaN;
    echo.textContent = Number.isNaN(ms) ? '' : `= ${new Date(ms).toISOString().replace('.000Z', 'Z')} (UTC)`;
  }
}
for (const id of ['activity-form', 'edit-form']) {
  const form = $(id) as HTMLFormElement;
  form.addEventListener('input', () => echoUtc(form));
}
for (const el of document.querySelectorAll('.zone-name')) el.textContent = el.closest('label') ? `(${zoneLabel()})` : zoneLabel();
const isoToLocal = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
};

function presetTimes(): void {
  const form = $('activity-form') as HTMLFormElement;
  const start = Math.ceil((Date.now() + 120_000) / 60_000) * 60_000;
  (form.elements.namedItem('startAt') as HTMLInputElement).value = isoToLocal(start);
  (form.elements.namedItem('endAt') as HTMLInputElement).value = isoToLocal(start + 3_600_000);
  echoUtc(form);
}

$('activity-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const date: Check = (v) => (v.trim() === '' || Number.isNaN(Date.parse(v)) ? 'A date and time.' : undefined);
  const ok = validate(
    form,
    {
      name: [required, maxLen(200)],
      commodityId: [(v) => (/^[0-9]{1,20}$/.test(v.trim()) ? undefined : 'Pick a commodity (create one above if the list is empty).')],
      price: [required, money],
      stock: [required, intRange(1, 10_000_000)],
      startAt: [date],
      endAt: [date],
      limitPerUser: [intRange(1, 100)],
      paymentTimeoutSeconds: [intRange(1, 86_400)],
      challengeDifficulty: [intRange(0, 32)],
    },
    () => (Date.parse(field(form, 'endAt')) > Date.parse(field(form, 'startAt')) ? undefined : ['endAt', 'Must be after the start.']),
  );
  if (!ok) return;
  const out = $('activity-result');
  try {
    const { activity } = await adminApi<{ activity: { id: string; name: string } }>('POST', '/api/v1/admin/activities', {
      name: field(form, 'name'),
      commodityId: field(form, 'commodityId'),
      priceCents: toCents(field(form, 'price')),
      stock: Number(field(form, 'stock')),
      startAt: localToIso(field(form, 'startAt')),
      endAt: localToIso(field(form, 'endAt')),
      limitPerUser: Number(field(form, 'limitPerUser')),
      paymentTimeoutSeconds: Number(field(form, 'paymentTimeoutSeconds')),
      antiBot: field(form, 'antiBot'),
      challengeDifficulty: Number(field(form, 'challengeDifficulty')),
    });
    out.textContent = `Created activity ${activity.id} “${activity.name}”.`;
    out.dataset.kind = 'ok';
    await loadActivities();
    void loadAudit();
  } catch (error) {
    out.textContent = errorText(error);
    out.dataset.kind = 'error';
  }
});

// ---- commodities (the create form's picker) -----------------------------------------------------

interface Commodity {
  id: string;
  name: string;
  priceCents: number;
  category: string | null;
}

let commodities: Commodity[] = [];

/** Fills the picker (newest first); `select` picks that one and its price. */
async function loadCommodities(select?: string): Promise<void> {
  if (!token) return;
  const form = $('activity-form') as HTMLFormElement;
  const picker = form.elements.namedItem('commodityId') as HTMLSelectElement;
  try {
    commodities = (await adminApi<{ commodities: Commodity[] }>('GET', '/api/v1/admin/commodities')).commodities;
  } catch (error) {
    say(`Could not list the commodities: ${errorText(error)}`, 'error');
    return;
  }
  const keep = select ?? picker.value;
  const placeholder = new Option(commodities.length === 0 ? '— create a commodity first —' : '— pick a commodity —', '');
  picker.replaceChildren(
    placeholder,
    ...commodities.map((c) => new Option(`#${c.id} ${c.name} · ${formatPrice(c.priceCents)}${c.category ? ` · ${c.category}` : ''}`, c.id)),
  );
  picker.value = commodities.some((c) => c.id === keep) ? keep : '';
  if (select !== undefined) pickCommodity(picker.value);
}

/** Picking a commodity suggests its price (the sale price is usually lower; the operator edits it). */
function pickCommodity(id: string): void {
  const commodity = commodities.find((c) => c.id === id);
  if (!commodity) return;
  ((($('activity-form') as HTMLFormElement).elements.namedItem('price')) as HTMLInputElement).value = (commodity.priceCents / 100).toFixed(2);
}
(($('activity-form') as HTMLFormElement).elements.namedItem('commodityId') as HTMLSelectElement).addEventListener('change', (event) =>
  pickCommodity((event.target as HTMLSelectElement).value),
);

// ---- activity list --------------------------------------------------------------------------------

type AdminStatus = 'UPCOMING' | 'LIVE' | 'PAUSED' | 'SOLD_OUT' | 'ENDED';

interface AdminActivity {
  id: string;
  name: string;
  stock: number;
  startAt: string;
  endAt: string;
  antiBot: string;
  priceCents: number;
  paused: boolean;
  status: AdminStatus;
}

const STATUS_TEXT: Record<AdminStatus, string> = { UPCOMING: 'Upcoming', LIVE: 'Live', PAUSED: 'Paused', SOLD_OUT: 'Sold out', ENDED: 'Ended' };
const COLUMNS = ['Id', 'Name', 'Status', 'Stock', 'Price', 'Starts', 'Ends', 'Anti-bot'];

function cell(label: string, content: string | Node): HTMLTableCellElement {
  const td = document.createElement('td');
  td.dataset.label = label;
  td.append(content);
  return td;
}

function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

async function loadActivities(): Promise<boolean> {
  if (!token) return false;
  try {
    const { activities } = await adminApi<{ activities: AdminActivity[] }>('GET', '/api/v1/admin/activities');
    const body = $('activities');
    body.replaceChildren();
    for (const a of [...activities].reverse()) {
      const row = document.createElement('tr');
      row.dataset.activity = a.id;
      row.dataset.status = a.status;
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.dataset.status = a.status;
      badge.textContent = STATUS_TEXT[a.status] ?? a.status;
      const values: Array<string | Node> = [a.id, a.name, badge, a.stock.toLocaleString(), formatPrice(a.priceCents), formatTime(a.startAt), formatTime(a.endAt), a.antiBot];
      values.forEach((value, i) => row.append(cell(COLUMNS[i] ?? '', value)));
      const actions = document.createElement('div');
      actions.className = 'actions';
      actions.append(
        button('Watch live', `Watch activity ${a.id} live`, () => startLive(a)),
        button('Edit', `Edit activity ${a.id}`, () => startEdit(a)),
      );
      if (a.status !== 'ENDED') {
        actions.append(
          a.paused
            ? button('Resume', `Resume activity ${a.id}`, () => void control(a, 'resume'))
            : button('Pause', `Pause activity ${a.id}`, () => void control(a, 'pause')),
          button('End now', `End activity ${a.id} now`, () => void control(a, 'end')),
        );
      }
      row.append(cell('Actions', actions));
      body.append(row);
    }
    return true;
  } catch (error) {
    say(errorText(error), 'error');
    return false;
  }
}

const CONTROL_TEXT = { pause: 'paused', resume: 'resumed', end: 'ended' } as const;

/** Pause, resume or end a sale; ending asks first (it cannot be undone from here). */
async function control(activity: AdminActivity, kind: keyof typeof CONTROL_TEXT): Promise<void> {
  if (kind === 'end' && !confirm(`End activity ${activity.id} “${activity.name}” now? Purchases will be refused from now on.`)) return;
  try {
    const { activity: changed } = await adminApi<{ activity: AdminActivity }>('POST', `/api/v1/admin/activities/${activity.id}/${kind}`);
    say(`Activity ${changed.id} “${changed.name}” ${CONTROL_TEXT[kind]}: now ${STATUS_TEXT[changed.status]}.`, 'ok');
  } catch (error) {
    say(`Could not ${kind} activity ${activity.id}: ${errorText(error)}`, 'error');
  }
  await loadActivities();
  void loadAudit();
}

// ---- editing an activity (PATCH: name, price, end) -------------------------------------------------

let editing: AdminActivity | undefined;

function startEdit(activity: AdminActivity): void {
  editing = activity;
  const form = $('edit-form') as HTMLFormElement;
  $('edit-title').textContent = `Edit activity ${activity.id}`;
  (form.elements.namedItem('name') as HTMLInputElement).value = activity.name;
  (form.elements.namedItem('price') as HTMLInputElement).value = (activity.priceCents / 100).toFixed(2);
  (form.elements.namedItem('endAt') as HTMLInputElement).value = isoToLocal(Date.parse(activity.endAt));
  echoUtc(form);
  $('edit-result').textContent = '';
  $('edit').hidden = false;
  $('edit').scrollIntoView({ block: 'nearest' });
  (form.elements.namedItem('name') as HTMLInputElement).focus();
}

$('edit-cancel').addEventListener('click', () => {
  editing = undefined;
  $('edit').hidden = true;
});

$('edit-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const activity = editing;
  if (!activity) return;
  const date: Check = (v) => (v.trim() === '' || Number.isNaN(Date.parse(v)) ? 'A date and time.' : undefined);
  const ok = validate(form, { name: [required, maxLen(200)], price: [required, money], endAt: [date] }, () =>
    Date.parse(field(form, 'endAt')) > Date.parse(activity.startAt) ? undefined : ['endAt', `Must be after the start (${formatTime(activity.startAt)}).`],
  );
  if (!ok) return;
  const out = $('edit-result');
  try {
    const { activity: saved } = await adminApi<{ activity: AdminActivity }>('PATCH', `/api/v1/admin/activities/${activity.id}`, {
      name: field(form, 'name'),
      priceCents: toCents(field(form, 'price')),
      endAt: localToIso(field(form, 'endAt')),
    });
    editing = saved;
    out.textContent = `Saved activity ${saved.id} “${saved.name}”: ${formatPrice(saved.priceCents)}, ends ${formatTime(saved.endAt)}.`;
    out.dataset.kind = 'ok';
  } catch (error) {
    out.textContent = errorText(error);
    out.dataset.kind = 'error';
  }
  await loadActivities();
  void loadAudit();
});

$('refresh').addEventListener('click', () => void loadActivities());

// ---- refunds owed ---------------------------------------------------------------------------------

interface Refund {
  paymentId: string;
  orderId: string;
  activityId: string;
  userId: string;
  amountCents: number;
  status: 'REFUND_REQUIRED' | 'REFUNDED';
  createdAt: string;
  updatedAt: string;
}

/** The oldest owed refunds (the API pages by 100) with the total of all of them. */
async function loadRefunds(): Promise<void> {
  if (!token) return;
  const summary = $('refunds-summary');
  const table = $('refunds-table');
  let answer: { refunds: Refund[]; count: number; totalCents: number };
  try {
    answer = await adminApi('GET', '/api/v1/admin/refunds');
  } catch (error) {
    table.hidden = true;
    summary.dataset.kind = 'error';
    summary.dataset.state = 'unavailable';
    // A server without the refunds endpoint answers 404: say so, not "something went wrong".
    summary.textContent =
      error instanceof ApiError && error.code === 'NOT_FOUND' ? 'Refund data is not available on this server.' : `Could not load the refunds: ${errorText(error)}`;
    return;
  }
  const { refunds, count, totalCents } = answer;
  summary.dataset.state = count === 0 ? 'none' : 'owed';
  summary.dataset.kind = count === 0 ? 'ok' : 'error';
  summary.textContent =
    count === 0
      ? 'No refunds owed.'
      : `${count} refund${count === 1 ? '' : 's'} owed, ${formatPrice(totalCents)} in total${refunds.length < count ? ` (the oldest ${refunds.length} shown)` : ''}.`;
  table.hidden = refunds.length === 0;
  const body = $('refunds-body');
  body.replaceChildren();
  for (const r of refunds) {
    const row = document.createElement('tr');
    row.dataset.payment = r.paymentId;
    const labels = ['Payment', 'Order', 'Activity', 'User', 'Amount', 'Paid at'];
    [r.paymentId, r.orderId, r.activityId, r.userId, formatPrice(r.amountCents), formatTime(r.createdAt)].forEach((text, i) => row.append(cell(labels[i] ?? '', text)));
    const td = document.createElement('td');
    const mark = document.createElement('button');
    mark.type = 'button';
    mark.className = 'secondary';
    mark.textContent = 'Mark refunded';
    mark.setAttribute('aria-label', `Mark payment ${r.paymentId} refunded`);
    mark.addEventListener('click', () => void markRefunded(r, mark));
    td.append(mark);
    row.append(td);
    body.append(row);
  }
}

async function markRefunded(refund: Refund, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await adminApi('POST', `/api/v1/admin/refunds/${refund.paymentId}/refunded`);
    say(`Payment ${refund.paymentId} (${formatPrice(refund.amountCents)} to ${refund.userId}) marked refunded.`, 'ok');
    void loadAudit();
  } catch (error) {
    say(`Could not mark payment ${refund.paymentId} refunded: ${errorText(error)}`, 'error');
    button.disabled = false;
  }
  await loadRefunds();
}

$('refresh-refunds').addEventListener('click', () => void loadRefunds());

// ---- audit log ------------------------------------------------------------------------------------

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  detail: string | null;
}

async function loadAudit(): Promise<void> {
  if (!token) return;
  const summary = $('audit-summary');
  let entries: AuditEntry[];
  try {
    entries = (await adminApi<{ entries: AuditEntry[] }>('GET', '/api/v1/admin/audit?limit=50')).entries;
  } catch (error) {
    summary.dataset.kind = 'error';
    summary.textContent = `Could not load the audit log: ${errorText(error)}`;
    return;
  }
  summary.dataset.kind = 'info';
  summary.textContent = entries.length === 0 ? 'No admin actions yet.' : `The latest ${entries.length} admin action${entries.length === 1 ? '' : 's'}.`;
  const body = $('audit-body');
  body.replaceChildren();
  for (const e of entries) {
    const row = document.createElement('tr');
    row.dataset.action = e.action;
    const values = [formatTime(e.at), e.actor, e.action, e.target ?? '–', e.status < 400 ? `${e.status} ok` : `${e.status} refused`, e.detail ?? ''];
    ['When', 'Who', 'Action', 'Target', 'Result', 'Details'].forEach((label, i) => row.append(cell(label, values[i] ?? '')));
    row.lastElementChild?.classList.add('mono');
    body.append(row);
  }
}

$('refresh-audit').addEventListener('click', () => void loadAudit());

// ---- live view ------------------------------------------------------------------------------------

const WINDOW = 120; // points (seconds) kept on the charts
const OUTCOMES = ['RESERVED', 'SOLD_OUT', 'LIMIT_EXCEEDED', 'RATE_LIMITED', 'BUSY', 'other'] as const;
const PURCHASE_ROUTE = '/api/v1/activities/:id/purchase';

interface Tick {
  at: number;
  stats: {
    stock: number;
    redis: { remaining: number | null };
    db: { available: number; locked: number; sold: number };
    orders: Record<string, number>;
  };
  /** The series are summed over this many processes (every API and worker process of every instance). */
  processes: number;
  metrics: string;
}

let live: { abort: AbortController; charts: uPlot[] } | undefined;

/** One per chart on screen; disconnected with the charts. */
const resizers: ResizeObserver[] = [];

function chart(target: string, series: Array<{ label: string; stroke: string }>, data: number[][]): uPlot {
  const el = $(target);
  el.replaceChildren();
  const width = Math.max(240, el.clientWidth || 320);
  const plot = new uPlot(
    {
      width,
      height: 160,
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: true } },
      axes: [{}, { size: 50 }],
      series: [{}, ...series.map((s) => ({ ...s, width: 2, spanGaps: true }))],
    },
    data as uPlot.AlignedData,
    el,
  );
  // uPlot draws at a fixed width: follow the container, so a phone (or a rotated one) never scrolls sideways.
  const resize = new ResizeObserver(() => {
    const w = Math.max(240, el.clientWidth);
    if (w !== plot.width) plot.setSize({ width: w, height: 160 });
  });
  resize.observe(el);
  resizers.push(resize);
  return plot;
}

function stopLive(): void {
  live?.abort.abort();
  for (const c of live?.charts ?? []) c.destroy();
  for (const r of resizers.splice(0)) r.disconnect();
  live = undefined;
  $('live').hidden = true;
}

function setNumbers(values: Array<[string, string]>): void {
  const dl = $('numbers');
  dl.replaceChildren();
  for (const [label, value] of values) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dd.dataset.metric = label;
    div.append(dt, dd);
    dl.append(div);
  }
}

/**
 * On the ops address (SECKILL_OPS_PORT) the console's origin serves no buyer routes, so a link to
 * the product page there would 404; the public address is not something this page can know (a
 * proxy may stand in front). Asked once, with a buyer route: on the ops address the link becomes a
 * note saying where the page is.
 */
const onPublicAddress = fetch('/api/v1/time').then(
  (response) => response.status !== 404,
  () => true,
);

function showProductLink(activityId: string): void {
  const link = $('product-link') as HTMLAnchorElement;
  const path = `/activities/${activityId}`;
  void onPublicAddress.then((isPublic) => {
    if (isPublic) {
      link.href = path;
      link.textContent = 'Open the product page';
    } else {
      link.removeAttribute('href');
      link.textContent = `Product page: ${path} on the public address (this is the ops address)`;
    }
  });
}

function startLive(activity: AdminActivity): void {
  stopLive();
  const section = $('live');
  section.hidden = false;
  section.dataset.activity = activity.id;
  section.dataset.ticks = '0';
  section.dataset.peakRps = '0';
  $('live-title').textContent = `Live · activity ${activity.id} “${activity.name}”`;
  showProductLink(activity.id);
  $('op-result').hidden = true;

  const xs: number[] = [];
  const units: number[][] = [[], [], [], []];
  const rps: number[][] = OUTCOMES.map(() => []);
  const p99: number[][] = [[]];
  const queue: number[][] = [[], []];
  const charts = [
    chart(
      'chart-units',
      [
        { label: 'available', stroke: '#12805c' },
        { label: 'locked', stroke: '#b54708' },
        { label: 'sold', stroke: '#1570ef' },
        { label: 'Redis remaining', stroke: '#e0312f' },
      ],
      [xs, ...units],
    ),
    chart(
      'chart-rps',
      OUTCOMES.map((label, i) => ({ label, stroke: ['#12805c', '#e0312f', '#b54708', '#7a5af8', '#667085', '#98a2b3'][i] as string })),
      [xs, ...rps],
    ),
    chart('chart-p99', [{ label: 'p99 ms', stroke: '#1570ef' }], [xs, ...p99]),
    chart(
      'chart-queue',
      [
        { label: 'queue lag (QUEUED)', stroke: '#b54708' },
        { label: 'dead letters', stroke: '#e0312f' },
      ],
      [xs, ...queue],
    ),
  ];
  const abort = new AbortController();
  live = { abort, charts };

  let previous: { at: number; outcomes: Map<string, number>; buckets: Map<number, number> } | undefined;
  const push = (series: number[], value: number) => {
    series.push(value);
    if (series.length > WINDOW) series.shift();
  };

  const onTick = (tick: Tick) => {
    const samples: Sample[] = parseProm(tick.metrics);
    const outcomes = byLabel(samples, 'seckill_purchase_total', 'outcome');
    const purchaseBuckets = buckets(samples, 'seckill_http_request_duration_seconds', (l) => l.route === PURCHASE_ROUTE);
    const dlq = [...byLabel(samples, 'seckill_orders_dead_lettered_total', '').values()].reduce((a, b) => a + b, 0);
    const seconds = previous ? Math.max(0.001, (tick.at - previous.at) / 1000) : 1;
    const before = previous?.outcomes;
    const rate = (name: string) => (before ? Math.max(0, ((outcomes.get(name) ?? 0) - (before.get(name) ?? 0)) / seconds) : 0);
    const otherRate = [...outcomes.keys()]
      .filter((k) => !(OUTCOMES as readonly string[]).includes(k))
      .reduce((sum, k) => sum + rate(k), 0);
    // p99 over the last second when there was traffic; over everything so far otherwise.
    const recent = quantile(0.99, diff(purchaseBuckets, previous?.buckets));
    const p99ms = (recent ?? quantile(0.99, purchaseBuckets) ?? 0) * 1000;
    previous = { at: tick.at, outcomes, buckets: purchaseBuckets };

    const { db, redis, orders, stock } = tick.stats;
    push(xs, tick.at / 1000);
    push(units[0] as number[], db.available);
    push(units[1] as number[], db.locked);
    push(units[2] as number[], db.sold);
    push(units[3] as number[], redis.remaining ?? 0);
    for (const [i, name] of OUTCOMES.entries()) push(rps[i] as number[], name === 'other' ? otherRate : rate(name));
    push(p99[0] as number[], p99ms);
    push(queue[0] as number[], orders.QUEUED ?? 0);
    push(queue[1] as number[], dlq);
    charts[0]?.setData([xs, ...units] as uPlot.AlignedData);
    charts[1]?.setData([xs, ...rps] as uPlot.AlignedData);
    charts[2]?.setData([xs, ...p99] as uPlot.AlignedData);
    charts[3]?.setData([xs, ...queue] as uPlot.AlignedData);

    const totalRps = OUTCOMES.reduce((sum, name) => sum + (name === 'other' ? otherRate : rate(name)), 0);
    setNumbers([
      ['Stock', stock.toLocaleString()],
      ['Available', db.available.toLocaleString()],
      ['Locked', db.locked.toLocaleString()],
      ['Sold', db.sold.toLocaleString()],
      ['Redis remaining', redis.remaining === null ? '–' : redis.remaining.toLocaleString()],
      ['Queued', String(orders.QUEUED ?? 0)],
      ['Pending payment', String(orders.PENDING_PAYMENT ?? 0)],
      ['Paid', String(orders.PAID ?? 0)],
      ['Cancelled', String(orders.CANCELLED ?? 0)],
      ['Failed', String(orders.FAILED ?? 0)],
      ['Requests/s', totalRps.toFixed(1)],
      ['Reserved total', String(outcomes.get('RESERVED') ?? 0)],
      ['p99 purchase', `${p99ms.toFixed(1)} ms`],
      ['Dead letters', String(dlq)],
      ['Processes counted', String(tick.processes)],
    ]);
    section.dataset.ticks = String(Number(section.dataset.ticks ?? '0') + 1);
    section.dataset.peakRps = String(Math.max(Number(section.dataset.peakRps ?? '0'), totalRps));
  };

  void follow(activity.id, abort.signal, onTick);
}

/** Reads the SSE feed with fetch (so the token travels in a header), reconnecting when it drops. */
async function follow(activityId: string, signal: AbortSignal, onTick: (tick: Tick) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch(`/api/v1/admin/activities/${activityId}/live`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal,
        cache: 'no-store',
      });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
        throw new ApiError(body?.error?.code ?? 'INTERNAL', response.status, body?.error?.message ?? `HTTP ${response.status}`);
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const type = /^event: (.*)$/m.exec(event)?.[1] ?? 'message';
          const data = event
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n');
          if (type === 'tick') onTick(JSON.parse(data) as Tick);
          if (type === 'problem') say(`Live feed: ${(JSON.parse(data) as { message: string }).message}`, 'error');
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      say(`Live feed interrupted: ${errorText(error)}. Reconnecting…`, 'error');
      if (error instanceof ApiError && (error.code === 'UNAUTHORIZED' || error.code === 'NOT_FOUND')) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function operate(kind: 'preheat' | 'reconcile'): Promise<void> {
  const id = $('live').dataset.activity;
  if (!id) return;
  const out = $('op-result');
  out.hidden = false;
  out.textContent = `${kind}…`;
  try {
    const result = await adminApi<unknown>('POST', `/api/v1/admin/activities/${id}/${kind}`);
    out.textContent = `${kind} done: ${JSON.stringify(result, null, 1)}`;
    void loadAudit();
  } catch (error) {
    out.textContent = `${kind} failed: ${errorText(error)}`;
  }
}

$('preheat').addEventListener('click', () => void operate('preheat'));
$('reconcile').addEventListener('click', () => void operate('reconcile'));

presetTimes();
renderToken();
void loadActivities();
void loadAll();
