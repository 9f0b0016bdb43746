/**
 * A purchase as the API hands it to the purchase path, and how it was accepted. The admission checks
 * (rate limits, anti-bot) and the degraded admission speak these types too, so they live below all of them.
 */
import type { Activity } from './activity.ts';

export interface PurchaseRequest {
  userId: string;
  activityId: string;
  requestId: string;
  quantity: number;
  /** Client IP (request.ip: X-Forwarded-For only when SECKILL_TRUST_PROXY=1), for the per-IP limit. */
  ip?: string;
  /** The solved anti-bot challenge, for activities with antiBot "challenge". */
  challenge?: { challengeId: string; nonce: string };
  /** The waiting room's pass (header X-Seckill-Pass), for activities with a waiting room. */
  pass?: string;
}

export interface PurchaseAccepted {
  orderId: string;
  status: 'QUEUED';
  /** How it was accepted, for seckill_purchase_total (counted once, by the route); not sent to the client. */
  outcome: 'RESERVED' | 'REPLAY' | 'DEGRADED';
}

/** A check that runs before the reservation (rate limits, anti-bot): throws the refusal, or lets the purchase on. */
export type AdmissionCheck = (request: PurchaseRequest, activity: Activity) => Promise<void>;
