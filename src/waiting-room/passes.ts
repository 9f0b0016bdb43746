/**
 * The waiting room's pass: proof that the leader admitted this user to this activity, until a
 * time. Signed (HMAC-SHA256 with a key derived from the JWT secret, so no new secret to deploy)
 * and checked with no I/O, on whichever instance the purchase lands. The pass carries what it is
 * bound to — `wr1.<activityId>.<userId>.<expiresAtMs>.<signature>` — so a copied pass is refused
 * for anyone else and any other sale.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors.ts';

const VERSION = 'wr1';

export interface Passes {
  /** The pass of an admitted user (deterministic: asking twice gives the same pass). */
  sign(activityId: string, userId: string, expiresAtMs: number): string;
  /** Undefined when `pass` admits `userId` to `activityId` now, else the refusal to answer. */
  verify(pass: string | undefined, activityId: string, userId: string, nowMs: number): AppError | undefined;
}

export function createPasses(jwtSecret: string): Passes {
  const key = createHmac('sha256', jwtSecret).update('seckill waiting-room pass').digest();
  const signature = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url').slice(0, 32);

  return {
    sign(activityId, userId, expiresAtMs) {
      const payload = `${VERSION}.${activityId}.${userId}.${expiresAtMs}`;
      return `${payload}.${signature(payload)}`;
    },
    verify(pass, activityId, userId, nowMs) {
      if (pass === undefined || pass === '') return new AppError('PASS_REQUIRED', 'this sale has a waiting room: join the queue and buy with the pass it gives');
      const invalid = new AppError('PASS_INVALID', 'the pass is not valid for this user and sale');
      const parts = pass.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) return invalid;
      const [, passActivity, passUser, expires, given] = parts as [string, string, string, string, string];
      const expected = Buffer.from(signature(parts.slice(0, 4).join('.')));
      const received = Buffer.from(given);
      // The signature first: a forged pass is INVALID whatever the time it claims.
      if (received.length !== expected.length || !timingSafeEqual(received, expected)) return invalid;
      if (passActivity !== activityId || passUser !== userId) return invalid;
      if (!(Number(expires) > nowMs)) return new AppError('PASS_EXPIRED', 'the pass has expired: join the queue again');
      return undefined;
    },
  };
}
