/**
 * Who is calling: users by HS256 JWT (`sub` is the user id, taken from the token only), the admin
 * by a static bearer token (compared in constant time).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `authenticate` hook: the caller's user id, from the token only. */
    userId: string;
  }
}

export const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

const VERIFIED_CACHE_SIZE = 50_000;

export function createUserAuth(secret: string) {
  // Only HS256 is accepted: `alg: none` and algorithm-confusion tokens fail verification.
  const verify = createVerifier({ key: secret, algorithms: ['HS256'] });
  const sign = createSigner({ key: secret, algorithm: 'HS256' });
  // Tokens already verified, keyed by the token string itself: a crowd retries with the same
  // token many times a second, and a Map lookup is far cheaper than fast-jwt's own cache, which
  // hashes every token with SHA-256 first. Only valid tokens enter; `exp` is checked on each hit.
  const verified = new Map<string, { userId: string; expiresAtMs: number }>();

  function userFromToken(token: string | undefined): string {
    if (!token) throw unauthorized('missing bearer token');
    const hit = verified.get(token);
    if (hit && hit.expiresAtMs > Date.now()) return hit.userId;
    let payload: { sub?: unknown; exp?: unknown };
    try {
      payload = verify(token) as { sub?: unknown; exp?: unknown };
    } catch {
      throw unauthorized('invalid or expired token');
    }
    if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub)) throw unauthorized('token subject is not a valid user id');
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(token, {
      userId: payload.sub,
      expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY,
    });
    return payload.sub;
  }

  return {
    userFromToken,
    /**
     * Hook that sets `request.userId` from `Authorization: Bearer <jwt>`; 401 otherwise. Runs
     * before validation, so an anonymous caller learns it must authenticate rather than what its
     * body got wrong. A `?token=` is ignored here: tokens in URLs end up in proxies' logs and
     * browser history, so only the WebSocket (below), which browsers cannot give a header, takes one.
     */
    async authenticate(request: FastifyRequest): Promise<void> {
      request.userId = userFromToken(bearer(request.headers.authorization));
    },
    /** The WebSocket's hook: the header, or else `?token=` (a browser's WebSocket cannot set headers). */
    async authenticateWebSocket(request: FastifyRequest): Promise<void> {
      const query = request.query as { token?: unknown } | undefined;
      const fromQuery = typeof query?.token === 'string' ? query.token : undefined;
      request.userId = userFromToken(bearer(request.headers.authorization) ?? fromQuery);
    },
    issue(userId: string, ttlSeconds = 24 * 3600): string {
      return sign({ sub: userId, exp: Math.floor(Date.now() / 1000) + ttlSeconds });
    },
  };
}

export type UserAuth = ReturnType<typeof createUserAuth>;

export type AdminAuth = ReturnType<typeof createAdminAuth>;

export function createAdminAuth(adminToken: string) {
  const expected = createHash('sha256').update(adminToken).digest();
  return (request: FastifyRequest): void => {
    const token = bearer(request.headers.authorization);
    const given = createHash('sha256').update(token ?? '').digest();
    if (!token || !timingSafeEqual(given, expected)) throw unauthorized('admin token required');
  };
}
