/** Typed wrapper of `throttle-1.lua` (GCRA rate limit shared by every instance): builds its KEYS/ARGV. */
import type { RedisClient } from './client.ts';
import type { Keys } from './keys.ts';
import { runScript } from './scripts.ts';

export type ThrottleResult = { allowed: true } | { allowed: false; waitMs: number };

export interface ThrottleInput {
  kind: 'user' | 'ip';
  id: string;
  /** Sustained attempts per second (> 0). */
  perSec: number;
  /** Attempts allowed at once from an idle key (>= 1). */
  burst: number;
}

export async function throttle(redis: RedisClient, keys: Keys, input: ThrottleInput): Promise<ThrottleResult> {
  const [allowed, waitMs] = await runScript<[number, number]>(
    redis,
    'throttle',
    [keys.throttle(input.kind, input.id)],
    [1000 / input.perSec, Math.max(1, Math.floor(input.burst))],
  );
  return allowed === 1 ? { allowed: true } : { allowed: false, waitMs: Math.max(1, Number(waitMs)) };
}
