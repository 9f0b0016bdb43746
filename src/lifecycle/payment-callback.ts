/**
 * What the payment provider sends (docs/api.md, "Payment provider"): a callback signed with
 * SECKILL_PAYMENT_SECRET over the exact bytes of its body. The signature is checked on the raw body
 * before anything is parsed, and the body is then validated by hand, so a forged or malformed
 * callback changes nothing. The built-in simulator signs the same way.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors.ts';

export interface CallbackBody {
  paymentId: string;
  orderId: string;
  status: 'SUCCEEDED' | 'FAILED';
  amountCents: number;
}

export const SIGNATURE_HEADER = 'x-seckill-signature';

/** `sha256=<hex HMAC-SHA256(secret, raw body)>`, as the provider sends it. */
export function signBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of the provider's signature over the exact bytes received. */
export function verifySignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signBody(secret, rawBody));
  const given = Buffer.from(header.trim());
  // timingSafeEqual needs equal lengths; the length of a well-formed signature is public anyway.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Validates the callback JSON by hand (the raw body is read before any parsing, for the signature). */
export function parseCallbackBody(rawBody: string): CallbackBody {
  let value: Partial<Record<keyof CallbackBody, unknown>>;
  try {
    value = JSON.parse(rawBody) as typeof value;
  } catch {
    throw new AppError('INVALID_REQUEST', 'body is not JSON');
  }
  const id = (v: unknown) => (typeof v === 'string' && /^\d{1,20}$/.test(v) ? v : typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? String(v) : undefined);
  const paymentId = id(value?.paymentId);
  const orderId = id(value?.orderId);
  const { status, amountCents } = value ?? {};
  if (!paymentId || !orderId) throw new AppError('INVALID_REQUEST', 'paymentId and orderId must be decimal ids');
  if (status !== 'SUCCEEDED' && status !== 'FAILED') throw new AppError('INVALID_REQUEST', 'status must be SUCCEEDED or FAILED');
  if (typeof amountCents !== 'number' || !Number.isSafeInteger(amountCents) || amountCents < 0) {
    throw new AppError('INVALID_REQUEST', 'amountCents must be a non-negative integer');
  }
  return { paymentId, orderId, status, amountCents };
}
