/**
 * Which MySQL failures are the database being away for a moment (a dropped or killed connection,
 * a restart, too many connections, a lost lock race) rather than something wrong with the data.
 * A transient failure is retried — by the order worker for as long as it lasts (a message is never
 * dead-lettered for it) — and answered 503 BUSY over HTTP, never 500.
 */
const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTCONN',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
]);

// 1040 too many connections, 1053 shutdown, 1205 lock wait timeout, 1213 deadlock,
// 1317 query interrupted, 1927 connection killed, 2006 gone away, 2013 lost during query.
const TRANSIENT_ERRNOS = new Set([1040, 1053, 1205, 1213, 1317, 1927, 2006, 2013]);

const TRANSIENT_MESSAGES = /connection lost|closed state|connection is closed|pool is closed|read ECONNRESET|server has gone away|connect ETIMEDOUT/i;

export function isTransientDbError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  const { code, errno } = error as Error & { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  if (typeof errno === 'number' && TRANSIENT_ERRNOS.has(errno)) return true;
  if (TRANSIENT_MESSAGES.test(error.message)) return true;
  return isTransientDbError(error.cause, depth + 1);
}
