/**
 * Leases on a key held by one process at a time (Snowflake worker ids): taken with SET NX PX, then
 * renewed or dropped by lease-1.lua only while the caller still owns it. The only module that
 * builds that script's KEYS and ARGV.
 */
import type { RedisClient } from './client.ts';
import { runCall } from './scripts.ts';

/** Takes the lease if nobody holds it; true when this call did. */
export async function takeLease(redis: RedisClient, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await redis.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK';
}

/**
 * Extends `owner`'s lease to `ttlMs` (or takes back one that vanished with a Redis wipe); false when
 * another process holds it now, and the caller must stop using what it leased.
 */
export async function renewLease(redis: RedisClient, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await runCall<number>(redis, { name: 'lease', keys: [key], args: [owner, ttlMs] })) === 1;
}

/** Drops `owner`'s lease (someone else's is left alone). */
export async function dropLease(redis: RedisClient, key: string, owner: string): Promise<void> {
  await runCall(redis, { name: 'lease', keys: [key], args: [owner, 0] });
}
