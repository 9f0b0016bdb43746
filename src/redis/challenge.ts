/**
 * Anti-bot challenges in Redis, so any instance verifies what another issued: stored with a TTL,
 * taken atomically by `takeChallenge-1.lua` (the only module that builds its KEYS/ARGV).
 */
import type { RedisClient } from './client.ts';
import type { ActivityKeys } from './keys.ts';
import { runScript } from './scripts.ts';

export interface StoredChallenge {
  prefix: string;
  difficulty: number;
  expiresAtMs: number;
}

export type TakeResult = { kind: 'taken'; challenge: StoredChallenge } | { kind: 'missing' } | { kind: 'foreign' };

/** `keys` are the buyer's home shard's: a hot sale's challenges spread over its shards like its buyers. */
export async function storeChallenge(
  redis: RedisClient,
  keys: ActivityKeys,
  input: { challengeId: string; userId: string } & StoredChallenge,
  ttlMs: number,
): Promise<void> {
  const value = `${input.userId}|${input.prefix}|${input.difficulty}|${input.expiresAtMs}`;
  await redis.set(keys.challenge(input.challengeId), value, 'PX', ttlMs);
}

/** Takes (deletes) the challenge if it exists and belongs to `userId`; someone else's is left alone. */
export async function takeChallenge(redis: RedisClient, keys: ActivityKeys, challengeId: string, userId: string): Promise<TakeResult> {
  const [code, value] = await runScript<[number, string]>(redis, 'takeChallenge', [keys.challenge(challengeId)], [userId]);
  if (code === -1) return { kind: 'missing' };
  if (code === -2) return { kind: 'foreign' };
  const [prefix = '', difficulty = '0', expiresAtMs = '0'] = value.split('|');
  return { kind: 'taken', challenge: { prefix, difficulty: Number(difficulty), expiresAtMs: Number(expiresAtMs) } };
}
