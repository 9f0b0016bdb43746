/**
 * A tiny HTTP client for black-box tests: starts the app on a free port with a per-test
 * environment, signs user JWTs with the test secret, and creates a commodity + activity in one call.
 */
import { createSigner } from 'fast-jwt';
import { type App, startApp } from '../../src/app/app.ts';
import { type TestEnv, TEST_SECRETS, testEnv } from './env.ts';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes.
export type Json = any;

const signer = createSigner({ key: TEST_SECRETS.SECKILL_JWT_SECRET, algorithm: 'HS256', expiresIn: 3_600_000 });

/** A user JWT signed with the test secret (`sub` = userId, valid for an hour). */
export function token(userId: string): string {
  return signer({ sub: userId });
}

export async function call(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; auth?: string; headers?: Record<string, string> } = {},
): Promise<Reply<Json>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  if (options.auth !== undefined) headers.authorization = options.auth;
  const response = await fetch(url + path, { method, headers, body });
  const text = await response.text();
  let parsed: Json = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export interface TestApp {
  env: TestEnv;
  app: App;
  url: string;
  admin(method: string, path: string, body?: unknown): Promise<Reply<Json>>;
  /** Calls as `userId` (a JWT signed with the test secret). */
  user(userId: string, method: string, path: string, body?: unknown): Promise<Reply<Json>>;
  token(userId: string): string;
  buy(userId: string, activityId: string, requestId: string, quantity?: number): Promise<Reply<Json>>;
  createSale(options?: SaleOptions): Promise<{ commodityId: string; activity: Json }>;
  stats(activityId: string): Promise<Json>;
  close(): Promise<void>;
}

export interface SaleOptions {
  stock?: number;
  limitPerUser?: number;
  segments?: number;
  /** Redis shards of the stock. */
  shards?: number;
  priceCents?: number;
  startAt?: Date;
  endAt?: Date;
  paymentTimeoutSeconds?: number;
}

/** Starts the app (port 0) on a fresh test environment; `close()` stops it and drops everything. */
export async function startTestApp(overrides: Record<string, string> = {}, label = 'p'): Promise<TestApp> {
  const env = testEnv(overrides, label);
  let app: App;
  try {
    app = await startApp(env.config, { port: 0 });
  } catch (error) {
    await env.cleanup();
    throw error;
  }
  const url = app.url ?? '';
  const adminAuth = `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}`;
  const t: TestApp = {
    env,
    app,
    url,
    // The admin API is on the ops listener when the app has one (SECKILL_OPS_PORT).
    admin: (method, path, body) => call(app.opsUrl ?? url, method, path, { body, auth: adminAuth }),
    user: (userId, method, path, body) => call(url, method, path, { body, auth: `Bearer ${token(userId)}` }),
    token,
    buy: (userId, activityId, requestId, quantity = 1) =>
      call(url, 'POST', `/api/v1/activities/${activityId}/purchase`, { body: { requestId, quantity }, auth: `Bearer ${token(userId)}` }),
    async createSale(options = {}) {
      const priceCents = options.priceCents ?? 990;
      const c = await t.admin('POST', '/api/v1/admin/commodities', { name: 'Bottle', priceCents, description: 'a test bottle' });
      if (c.status !== 201) throw new Error(`create commodity: ${c.status} ${JSON.stringify(c.body)}`);
      const a = await t.admin('POST', '/api/v1/admin/activities', {
        name: 'Sale',
        commodityId: c.body.commodity.id,
        priceCents,
        stock: options.stock ?? 10,
        startAt: (options.startAt ?? new Date(Date.now() - 60_000)).toISOString(),
        endAt: (options.endAt ?? new Date(Date.now() + 3_600_000)).toISOString(),
        limitPerUser: options.limitPerUser ?? 1,
        paymentTimeoutSeconds: options.paymentTimeoutSeconds ?? 3600,
        ...(options.segments === undefined ? {} : { segments: options.segments }),
        ...(options.shards === undefined ? {} : { shards: options.shards }),
      });
      if (a.status !== 201) throw new Error(`create activity: ${a.status} ${JSON.stringify(a.body)}`);
      return { commodityId: c.body.commodity.id, activity: a.body.activity };
    },
    async stats(activityId) {
      const s = await t.admin('GET', `/api/v1/admin/activities/${activityId}/stats`);
      if (s.status !== 200) throw new Error(`stats: ${s.status} ${JSON.stringify(s.body)}`);
      return s.body;
    },
    async close() {
      try {
        await app.close();
      } finally {
        await env.cleanup();
      }
    },
  };
  return t;
}

/** Polls `predicate` until it returns truthy (returned) or throws after `timeoutMs`. */
export async function waitFor<T>(predicate: () => Promise<T> | T, timeoutMs = 20_000, what: string | (() => string) = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await predicate();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what} (last: ${JSON.stringify(last)})`);
}

/** Runs `tasks` with at most `limit` in flight; results in input order. */
export async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}

/**
 * Reads the admin live feed (SSE) until a `tick` satisfies `until` (returned), or throws after
 * `timeoutMs`; the stream is closed either way.
 */
export async function liveTickWhere(url: string, activityId: string, until: (tick: Json) => boolean, timeoutMs = 15_000): Promise<Json> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let last: Json;
  try {
    const response = await fetch(`${url}/api/v1/admin/activities/${activityId}/live`, {
      headers: { authorization: `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}` },
      signal: controller.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`live feed: ${response.status}`);
    let buffer = '';
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (!event.startsWith('event: tick') || data === undefined) continue;
        last = JSON.parse(data);
        if (until(last)) return last;
      }
    }
    throw new Error('live feed ended');
  } catch (error) {
    if (controller.signal.aborted) throw new Error(`no live tick matched within ${timeoutMs} ms (last: ${JSON.stringify(last)?.slice(0, 2000)})`);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The value of one counter series in Prometheus text (`name{labels} value`), 0 when absent. */
export function promValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
