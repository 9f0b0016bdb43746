/**
 * A bound on waiting for a dependency: a broker that accepts a connection and then answers nothing
 * (frozen, or cut off mid-path) would otherwise hold the caller, and everything queued behind it,
 * for as long as the fault lasts.
 */

/** Rejects with `error()` unless `promise` settles within `ms`; the timer never outlives the race. */
export function within<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Redis did not answer in time: counted as an outage (dependency-errors.ts), never as a reply. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** A Redis call bounded by `ms`: the purchase path and the read path never wait on a Redis that hangs. */
export function withRedisTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return within(promise, ms, () => new RedisTimeoutError(ms));
}
