/**
 * A circuit breaker around Redis on the purchase path (DESIGN.md, "Redis restarted empty").
 * Closed: calls go through, each bounded by a timeout, and consecutive connection failures are
 * counted. Open: calls fail at once (no request waits on a dead Redis; the purchase path degrades
 * instead). Every `probeIntervalMs` a single probe pings Redis (half-open); only once the ping
 * answers AND `beforeClose` succeeded — re-preheating stock that an empty Redis lost — does the
 * circuit close, so no reservation ever runs against a gate that forgot its stock.
 *
 * Hand-written rather than opossum: opossum closes the circuit on the first successful *request*
 * in half-open, while here closing must wait for a dedicated recovery step (the re-preheat), and
 * the failure signal we want is the connection state ioredis already tracks, not an error rate.
 */
import type { Logger } from '../log.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The state as the `seckill_redis_breaker_state` gauge shows it: higher is worse. */
export const breakerStateValue: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };

export class BreakerOpenError extends Error {
  constructor() {
    super('Redis circuit is open');
    this.name = 'BreakerOpenError';
  }
}

export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** What the breaker needs of an ioredis client (Redis or Cluster). */
export interface ProbedRedis {
  readonly status: string;
  ping(): Promise<string>;
}

export interface RedisBreakerOptions {
  redis: ProbedRedis;
  log: Logger;
  /** Must succeed before the circuit closes (e.g. re-load stock an empty Redis lost). */
  beforeClose?: () => Promise<void>;
  /** Consecutive connection failures (or timeouts) that open the circuit. */
  failureThreshold?: number;
  /** How often an open circuit probes Redis. */
  probeIntervalMs?: number;
  /** A call slower than this counts as a failure and is answered with an error. */
  timeoutMs?: number;
  onStateChange?: (state: BreakerState) => void;
}

export interface RedisBreaker {
  readonly state: BreakerState;
  /** True only while calls may go to Redis. */
  isClosed(): boolean;
  /** Runs `fn` (a Redis call) through the breaker: fails fast when open or not connected, times out. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Stops probing (shutdown). */
  stop(): void;
}

/** A Redis *reply* error (wrong type, script error) means Redis answered: it is not an outage. */
const isReplyError = (error: unknown) => error instanceof Error && error.name === 'ReplyError';

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createRedisBreaker(options: RedisBreakerOptions): RedisBreaker {
  const { redis, log } = options;
  const threshold = options.failureThreshold ?? 3;
  const probeIntervalMs = options.probeIntervalMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 1000;
  let state: BreakerState = 'closed';
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function setState(next: BreakerState): void {
    if (state === next) return;
    state = next;
    log.warn({ state: next }, `Redis circuit ${next}`);
    options.onStateChange?.(next);
  }

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void probe();
    }, probeIntervalMs);
    timer.unref();
  }

  function trip(): void {
    if (state !== 'closed') return;
    setState('open');
    schedule();
  }

  async function probe(): Promise<void> {
    if (stopped || state !== 'open') return;
    // ioredis reconnects by itself; until it has, a ping would only queue.
    if (redis.status !== 'ready') return schedule();
    setState('half-open');
    try {
      await withTimeout(redis.ping(), timeoutMs);
      await options.beforeClose?.();
      failures = 0;
      setState('closed');
    } catch (error) {
      log.warn({ err: error }, 'Redis probe failed; circuit stays open');
      setState('open');
      schedule();
    }
  }

  function failure(): void {
    failures += 1;
    if (failures >= threshold || redis.status === 'end') trip();
  }

  return {
    get state() {
      return state;
    },
    isClosed: () => state === 'closed',
    async run(fn) {
      if (state !== 'closed') throw new BreakerOpenError();
      if (redis.status !== 'ready') {
        failure();
        throw new Error(`Redis not connected (${redis.status})`);
      }
      try {
        const value = await withTimeout(fn(), timeoutMs);
        failures = 0;
        return value;
      } catch (error) {
        if (!isReplyError(error)) failure();
        throw error;
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
