/**
 * 64-bit, time-ordered order ids made before publishing, so the client can poll at once and a
 * redelivered Kafka message hits MySQL's primary key. Layout: 41 bits of milliseconds since
 * 2025-01-01, 10 bits of worker id, 12 bits of sequence (4,096 ids per ms per process).
 * Worker ids are leased in Redis (SET NX PX, renewed) so two live processes never share one.
 */
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { dropLease, renewLease, takeLease } from '../redis/lease.ts';

export const EPOCH_MS = Date.UTC(2025, 0, 1);
const WORKER_BITS = 10n;
const SEQUENCE_BITS = 12n;
export const MAX_WORKERS = 1 << Number(WORKER_BITS);
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;

export interface IdGenerator {
  next(): string;
  readonly workerId: number;
  close(): Promise<void>;
}

/** Pure generator for a given worker id (the lease is the caller's business). */
export function createSnowflake(workerId: number, now: () => number = Date.now) {
  if (!Number.isInteger(workerId) || workerId < 0 || workerId >= MAX_WORKERS) throw new Error(`bad worker id ${workerId}`);
  let lastMs = -1;
  let sequence = 0;
  const worker = BigInt(workerId) << SEQUENCE_BITS;
  return function next(): string {
    let ms = now() - EPOCH_MS;
    // A clock that steps back would repeat ids: keep issuing from the last millisecond instead.
    if (ms < lastMs) ms = lastMs;
    if (ms === lastMs) {
      sequence = (sequence + 1) & MAX_SEQUENCE;
      if (sequence === 0) {
        // 4,096 ids in this millisecond already: borrow the next one (ids stay unique and ordered).
        ms = lastMs + 1;
      }
    } else {
      sequence = 0;
    }
    lastMs = ms;
    return ((BigInt(ms) << (WORKER_BITS + SEQUENCE_BITS)) | worker | BigInt(sequence)).toString();
  };
}

/** The time an id was made (for `createdAt` of orders still QUEUED). */
export function snowflakeTime(id: string): Date {
  return new Date(Number(BigInt(id) >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS);
}

/** Leases a free worker id in Redis (SET NX PX), or throws when all are taken. */
async function leaseFreeWorkerId(redis: RedisClient, keys: Keys, owner: string): Promise<number> {
  const start = Math.floor(Math.random() * MAX_WORKERS);
  for (let i = 0; i < MAX_WORKERS; i++) {
    const candidate = (start + i) % MAX_WORKERS;
    if (await takeLease(redis, keys.workerLease(candidate), owner, LEASE_MS)) return candidate;
  }
  throw new Error('no free Snowflake worker id in Redis');
}

/**
 * Leases a free worker id in Redis, keeps renewing it, and generates ids with it. If the lease is
 * found held by another process (Redis lost it in a wipe or failover, and a process started since
 * leased the same id), this one moves to a new id at once: two processes making ids with one
 * worker id could give two buyers the same order id.
 */
export async function leaseSnowflake(redis: RedisClient, keys: Keys, owner: string): Promise<IdGenerator> {
  let workerId = await leaseFreeWorkerId(redis, keys, owner);
  let next = createSnowflake(workerId);
  let moving = false;
  const renew = setInterval(() => {
    if (moving) return;
    moving = true;
    void (async () => {
      if (await renewLease(redis, keys.workerLease(workerId), owner, LEASE_MS)) return;
      workerId = await leaseFreeWorkerId(redis, keys, owner);
      next = createSnowflake(workerId);
    })()
      .catch(() => {})
      .finally(() => {
        moving = false;
      });
  }, RENEW_MS);
  renew.unref();
  return {
    get workerId() {
      return workerId;
    },
    next: () => next(),
    async close() {
      clearInterval(renew);
      await dropLease(redis, keys.workerLease(workerId), owner).catch(() => {});
    },
  };
}
