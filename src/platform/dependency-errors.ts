/**
 * Whether an error means a dependency (MySQL, Redis, Kafka) is away for the moment, rather than a
 * bug. Such a failure is answered 503 BUSY with Retry-After, never 500 (README, "Faults"): the
 * client's retry will work once the dependency is back, and nothing was changed meanwhile.
 */
import { isTransientDbError } from '../db/errors.ts';

const OUTAGE_NAMES = new Set([
  // ioredis: a command that could not be sent or answered.
  'MaxRetriesPerRequestError',
  'ClusterAllFailedError',
  'AbortError',
  // The project's own Redis breaker (src/guard/redis-breaker.ts) and bounded Redis calls (timeouts.ts).
  'BreakerOpenError',
  'RedisTimeoutError',
]);
const OUTAGE_CODES = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);
const OUTAGE_MESSAGES = /Connection is closed|Stream isn't writeable|Redis not connected|Redis did not answer|kafka metadata timed out/i;

export function isDependencyOutage(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  if (isTransientDbError(error)) return true;
  const code = (error as Error & { code?: unknown }).code;
  if (OUTAGE_NAMES.has(error.name) || (typeof code === 'string' && OUTAGE_CODES.has(code)) || OUTAGE_MESSAGES.test(error.message)) return true;
  // The Kafka client reports a failed send or join as an AggregateError of each attempt's error.
  if (error instanceof AggregateError && error.errors.some((e) => isDependencyOutage(e, depth + 1))) return true;
  return isDependencyOutage(error.cause, depth + 1);
}
