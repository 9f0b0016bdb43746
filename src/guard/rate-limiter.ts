/**
 * Per-user and per-IP purchase rate limits (docs/api.md: SECKILL_RATE_USER_PER_SEC/_BURST,
 * SECKILL_RATE_IP_PER_SEC). The limit that counts lives in Redis (`throttle-1.lua`, GCRA, shared by
 * every instance). In front of it, a process-local GCRA with the same parameters turns a flood from
 * one key away without a Redis round trip: one instance sees a subset of the key's traffic, so its
 * local bucket is never stricter than the shared one; when Redis refuses, the local bucket is set
 * to refuse for the same wait, so the rest of that flood stays local too.
 *
 * Hand-written (~40 lines) rather than rate-limiter-flexible's RateLimiterMemory: we need the exact
 * same algorithm locally as in our Lua script (so the local layer never refuses what Redis would
 * allow), plus "refund and block for the Redis wait", and a hard bound on memory under a flood of
 * distinct keys — all simpler to guarantee in our own small, tested code than through the library.
 */
import { AppError } from '../domain/errors.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { throttle } from '../redis/throttle.ts';
import type { AdmissionCheck } from '../domain/purchase.ts';
import type { RedisBreaker } from './redis-breaker.ts';

export interface LocalGcra {
  /** Counts one attempt: 0 when allowed, else the milliseconds until the next one is. */
  take(key: string): number;
  /** The shared limit refused an attempt this bucket allowed: give it back, refuse for `waitMs`. */
  refuse(key: string, waitMs: number): void;
  readonly size: number;
}

export function createLocalGcra(perSec: number, burst: number, options: { maxKeys?: number; now?: () => number } = {}): LocalGcra {
  const interval = 1000 / perSec;
  const tolerance = interval * Math.max(1, Math.floor(burst));
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  /** key → theoretical arrival time (ms) of the next attempt; an entry in the past is a full bucket. */
  const tats = new Map<string, number>();

  function bound(t: number): void {
    if (tats.size < maxKeys) return;
    for (const [key, tat] of tats) if (tat <= t) tats.delete(key);
    // Still full of live keys (a flood of distinct ids): forget them all. Redis still enforces;
    // only the local shortcut is lost, and memory stays bounded.
    if (tats.size >= maxKeys) tats.clear();
  }

  return {
    take(key) {
      const t = now();
      const tat = Math.max(tats.get(key) ?? t, t);
      const allowAt = tat + interval - tolerance;
      if (t < allowAt) return Math.ceil(allowAt - t);
      if (!tats.has(key)) bound(t);
      tats.set(key, tat + interval);
      return 0;
    },
    refuse(key, waitMs) {
      const t = now();
      const refunded = (tats.get(key) ?? t) - interval;
      tats.set(key, Math.max(refunded, t + waitMs + tolerance - interval));
    },
    get size() {
      return tats.size;
    },
  };
}

export interface RateLimitSettings {
  userPerSec: number;
  userBurst: number;
  ipPerSec: number;
}

export interface RateLimiterDeps {
  redis: RedisClient;
  keys: Keys;
  breaker: RedisBreaker;
  rate: RateLimitSettings;
}

export const rateLimited = (waitMs: number) =>
  new AppError('RATE_LIMITED', 'too many purchase attempts, slow down', { retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) });

/** The admission check: per user, then per client IP; each is off when its rate is 0. */
export function createRateLimiter(deps: RateLimiterDeps): AdmissionCheck {
  const { redis, keys, breaker, rate } = deps;
  type Limit = { kind: 'user' | 'ip'; perSec: number; burst: number; local: LocalGcra };
  const make = (kind: Limit['kind'], perSec: number, burst: number): Limit | undefined =>
    perSec > 0 ? { kind, perSec, burst, local: createLocalGcra(perSec, burst) } : undefined;
  const user = make('user', rate.userPerSec, Math.max(1, rate.userBurst));
  // The contract has no separate IP burst: one second's worth of attempts.
  const ip = make('ip', rate.ipPerSec, Math.max(1, Math.ceil(rate.ipPerSec)));

  async function take(limit: Limit, id: string): Promise<void> {
    const localWait = limit.local.take(id);
    if (localWait > 0) throw rateLimited(localWait);
    // Redis unreachable: the local limit alone holds the line (failing closed would turn a Redis
    // outage into a total outage; the degraded path has its own admission ratio).
    const key = keys.throttle(limit.kind, id);
    if (!breaker.isClosed(key)) return;
    let result: Awaited<ReturnType<typeof throttle>>;
    try {
      result = await breaker.run(() => throttle(redis, keys, { kind: limit.kind, id, perSec: limit.perSec, burst: limit.burst }), key);
    } catch {
      return;
    }
    if (!result.allowed) {
      limit.local.refuse(id, result.waitMs);
      throw rateLimited(result.waitMs);
    }
  }

  return async (request) => {
    if (user) await take(user, request.userId);
    if (ip && request.ip) await take(ip, request.ip);
  };
}
