/**
 * Whether a purchase may go on to the reservation: the sale's window (no I/O: the activity comes
 * from the process-local cache), the admission checks (rate limits, anti-bot), and what happens
 * while the Redis node holding the buyer's home shard is unreachable — then there is no gate to ask,
 * and the purchase is admitted per SECKILL_DEGRADE_ADMIT_RATIO or answered BUSY. Other nodes'
 * circuits, and so other shards' buyers, are not affected.
 */
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import type { AdmissionCheck, PurchaseAccepted, PurchaseRequest } from '../domain/purchase.ts';
import type { RedisBreaker } from '../guard/redis-breaker.ts';
import type { DegradedAdmission } from './degraded-admission.ts';

/** Throws NOT_STARTED before the start, ENDED from the end on, and PAUSED while an operator holds it. */
export function assertOnSale(activity: Pick<Activity, 'startAt' | 'endAt' | 'paused'>, nowMs: number): void {
  if (nowMs < activity.startAt.getTime()) throw new AppError('NOT_STARTED', 'the sale has not started');
  if (nowMs >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');
  if (activity.paused) throw new AppError('PAUSED', 'the sale is paused; it may resume');
}

export interface AdmissionDeps {
  checks?: AdmissionCheck[];
  /** Guards the purchase path's Redis calls; while a node's circuit is not closed, its buyers go to `degrade`. */
  redisBreaker?: RedisBreaker;
  /** Admission while Redis is unreachable (SECKILL_DEGRADE_ADMIT_RATIO); absent → 503 BUSY. */
  degrade?: DegradedAdmission;
}

export function createAdmission(deps: AdmissionDeps) {
  const checks = deps.checks ?? [];

  /** Runs every check in order; the first refusal is thrown. */
  async function check(request: PurchaseRequest, activity: Activity): Promise<void> {
    for (const admissionCheck of checks) await admissionCheck(request, activity);
  }

  return {
    check,
    /** True while the circuit of the node serving `homeKey` is not closed: no reservation can be asked of it. */
    redisAway: (homeKey: string): boolean => deps.redisBreaker !== undefined && !deps.redisBreaker.isClosed(homeKey),
    /** The purchase while its Redis node is away: checked like any other, then degraded or BUSY. */
    async withoutRedis(request: PurchaseRequest, activity: Activity, nowMs: number): Promise<PurchaseAccepted> {
      await check(request, activity);
      if (!deps.degrade) throw new AppError('BUSY', 'reservation unavailable, retry shortly', { retryAfter: 1 });
      return deps.degrade(request, activity, nowMs);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
