/**
 * Load shedding for the purchase path (docs/api.md: SECKILL_MAX_INFLIGHT): at most `maxInflight`
 * purchases in flight per instance, and none admitted while the event loop lags. Beyond that the
 * answer is 503 BUSY with Retry-After, decided from two numbers in memory — no I/O, no queueing —
 * so an overloaded instance keeps answering fast and its memory stays bounded instead of piling up
 * promises. Nothing was reserved for a shed request: it never reaches Redis.
 */
import { AppError } from '../domain/errors.ts';

export interface LoadShedderOptions {
  maxInflight: number;
  /** Shed while the event loop's last measured delay exceeds this (ms); 0 disables. */
  maxEventLoopDelayMs: number;
  /** How often the delay is measured. */
  sampleIntervalMs?: number;
  /** Mirrors the in-flight count (the `seckill_purchase_inflight` gauge). */
  gauge?: { inc(): void; dec(): void };
  onShed?: () => void;
}

export interface LoadShedder {
  readonly inflight: number;
  /** Current event-loop delay estimate (ms). */
  readonly eventLoopDelayMs: number;
  /** Cheap early refusal (before the body is parsed): throws BUSY when full or lagging. */
  precheck(): void;
  /** Runs one purchase in a slot, or throws BUSY without running it. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  stop(): void;
}

const busy = () => new AppError('BUSY', 'server busy, retry shortly', { retryAfter: 1 });

export function createLoadShedder(options: LoadShedderOptions): LoadShedder {
  const { maxInflight, maxEventLoopDelayMs, gauge, onShed } = options;
  const sampleMs = options.sampleIntervalMs ?? 100;
  let inflight = 0;
  let delayMs = 0;
  let expected = performance.now() + sampleMs;
  // A timer that fires late by N ms means every callback waited N ms: that is the lag a new
  // request would see too. Measured with a plain timer so it costs nothing between samples.
  const sampler = setInterval(() => {
    const t = performance.now();
    delayMs = Math.max(0, t - expected);
    expected = t + sampleMs;
  }, sampleMs);
  sampler.unref();

  const overloaded = () => inflight >= maxInflight || (maxEventLoopDelayMs > 0 && delayMs > maxEventLoopDelayMs);

  function shed(): AppError {
    onShed?.();
    return busy();
  }

  return {
    get inflight() {
      return inflight;
    },
    get eventLoopDelayMs() {
      return delayMs;
    },
    precheck() {
      if (overloaded()) throw shed();
    },
    async run(fn) {
      if (overloaded()) throw shed();
      inflight += 1;
      gauge?.inc();
      try {
        return await fn();
      } finally {
        inflight -= 1;
        gauge?.dec();
      }
    },
    stop() {
      clearInterval(sampler);
    },
  };
}
