/**
 * `seckill_purchase_total{outcome}`, counted in one place: when the purchase route has answered.
 * Counting where each refusal is made missed whole paths (the local sold-out flag, NOT_STARTED,
 * ENDED, ...), so the dashboard showed no sold-out traffic during a sell-out. Here every request
 * that reached the route is counted exactly once, whatever stage answered it: load shedding,
 * authentication, validation, the purchase service, or an unexpected error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { AppError } from '../domain/errors.ts';
import type { PurchaseAccepted } from '../domain/purchase.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The purchase's outcome once known (RESERVED, REPLAY, DEGRADED or an error code); '' otherwise. */
    purchaseOutcome: string;
  }
}

/** An error that is not an AppError has no code of its own; the status it got names it (errors.ts). */
const outcomeOfStatus = (status: number) => (status === 503 ? 'BUSY' : status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST');

export interface PurchaseOutcomeHooks {
  onError(request: FastifyRequest, reply: FastifyReply, error: Error): Promise<void>;
  onResponse(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Records the handler's success; the count happens in onResponse. */
  accepted(request: FastifyRequest, accepted: PurchaseAccepted): void;
  /** Records a refusal the handler answers itself (no onError hook runs for it). */
  refused(request: FastifyRequest, error: AppError): void;
}

/**
 * Route hooks that count the purchase route's answers. `app` is the plugin the route lives in: the
 * request field is declared there once, so every request has the same shape (no per-request
 * allocation beyond the counter increment; children per outcome are made once).
 */
export function purchaseOutcomeHooks(app: FastifyInstance, counter: Counter<'outcome'>): PurchaseOutcomeHooks {
  if (!app.hasRequestDecorator('purchaseOutcome')) app.decorateRequest('purchaseOutcome', '');
  const children = new Map<string, Counter.Internal>();
  const count = (outcome: string) => {
    let child = children.get(outcome);
    if (!child) {
      child = counter.labels(outcome);
      children.set(outcome, child);
    }
    child.inc();
  };
  return {
    async onError(request, _reply, error) {
      request.purchaseOutcome = error instanceof AppError ? error.code : '';
    },
    async onResponse(request, reply) {
      count(request.purchaseOutcome || outcomeOfStatus(reply.statusCode));
    },
    accepted(request, accepted) {
      request.purchaseOutcome = accepted.outcome;
    },
    refused(request, error) {
      request.purchaseOutcome = error.code;
    },
  };
}
