/**
 * Anti-bot proof of work for activities created with `antiBot: "challenge"` (docs/api.md). A challenge
 * is issued per (user, activity), stored in Redis with a short TTL so any instance can verify it,
 * and taken atomically on use (`takeChallenge-1.lua`): single-use, bound to its user and activity.
 * Verification costs one SHA-256.
 *
 * Idempotent replays: the challenge is checked BEFORE the stored answer is looked up (the happy
 * path pays no extra read), but a request whose challenge fails (typically: the same body sent
 * again after a lost response, its challenge already used) is let through when an answer is
 * already stored for its (user, requestId) — the reserve script then replays that answer and
 * reserves nothing. So a client's retry gets its original 202 (or error), never CHALLENGE_FAILED.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { leadingZeroBits } from '../client/challenge.ts';
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { storeChallenge, takeChallenge } from '../redis/challenge.ts';
import { homeKeys } from '../redis/shards.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import type { AdmissionCheck, PurchaseRequest } from '../domain/purchase.ts';
import type { RedisBreaker } from './redis-breaker.ts';

/** Challenges are issued from this long before the start, so clients can solve them in advance. */
export const CHALLENGE_LEAD_MS = 30_000;
export const CHALLENGE_TTL_MS = 120_000;

export interface ChallengeJson {
  challengeId: string;
  algorithm: 'sha256';
  prefix: string;
  difficulty: number;
  expiresAt: string;
}

export interface ChallengesDeps {
  redis: RedisClient;
  keys: Keys;
  breaker: RedisBreaker;
  ttlMs?: number;
  now?: () => number;
}

const failed = () => new AppError('CHALLENGE_FAILED', 'the challenge is wrong, expired, already used or not yours');
const unavailable = (cause: unknown) => new AppError('BUSY', 'challenges unavailable, retry shortly', { cause, retryAfter: 1 });

export function createChallenges(deps: ChallengesDeps) {
  const { redis, keys, breaker } = deps;
  const ttlMs = deps.ttlMs ?? CHALLENGE_TTL_MS;
  const now = deps.now ?? Date.now;

  async function issue(userId: string, activity: Activity): Promise<ChallengeJson> {
    const t = now();
    if (t < activity.startAt.getTime() - CHALLENGE_LEAD_MS) throw new AppError('NOT_STARTED', 'challenges open 30 s before the sale');
    if (t >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');
    const challenge = {
      challengeId: randomUUID(),
      prefix: randomBytes(16).toString('hex'),
      difficulty: activity.challengeDifficulty,
      expiresAtMs: t + ttlMs,
    };
    const home = homeKeys(keys, activity.id, userId, activity.shards);
    try {
      await breaker.run(() => storeChallenge(redis, home, { userId, ...challenge }, ttlMs), home.remaining);
    } catch (error) {
      throw unavailable(error);
    }
    return {
      challengeId: challenge.challengeId,
      algorithm: 'sha256',
      prefix: challenge.prefix,
      difficulty: challenge.difficulty,
      expiresAt: new Date(challenge.expiresAtMs).toISOString(),
    };
  }

  /** Outcome of the proof alone: undefined when it holds, else the error to answer. */
  async function verify(request: PurchaseRequest, activity: Activity): Promise<AppError | undefined> {
    const answer = request.challenge;
    if (!answer) return new AppError('CHALLENGE_REQUIRED', 'this sale needs a solved challenge: POST …/challenge first');
    const home = homeKeys(keys, activity.id, request.userId, activity.shards);
    const taken = await breaker.run(() => takeChallenge(redis, home, answer.challengeId, request.userId), home.remaining);
    if (taken.kind !== 'taken') return failed();
    const { prefix, difficulty, expiresAtMs } = taken.challenge;
    // Redis expires the key; the stored deadline also holds if a TTL was ever lost.
    if (now() > expiresAtMs) return failed();
    const digest = createHash('sha256').update(prefix + answer.nonce).digest();
    return leadingZeroBits(digest) >= difficulty ? undefined : failed();
  }

  const check: AdmissionCheck = async (request, activity) => {
    if (activity.antiBot !== 'challenge') return;
    let error: AppError | undefined;
    try {
      error = await verify(request, activity);
      if (!error) return;
      // A replay of a request already answered gets its stored answer (see the header).
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      const stored = await breaker.run(() => redis.exists(home.request(request.userId, request.requestId)), home.remaining);
      if (stored === 1) return;
    } catch (cause) {
      // Without Redis no proof can be checked (nor its single use enforced): refuse, retry later.
      throw unavailable(cause);
    }
    throw error;
  };

  return { issue, check };
}

export type Challenges = ReturnType<typeof createChallenges>;
