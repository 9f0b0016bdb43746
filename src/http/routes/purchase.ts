/**
 * Buying: the purchase itself and the anti-bot challenge it may need. The user id always comes from
 * the token, never from the body or query.
 */
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { AppError } from '../../domain/errors.ts';
import type { PurchaseAccepted } from '../../domain/purchase.ts';
import type { Guard } from '../../guard/guard.ts';
import type { Catalog } from '../../inventory/catalog.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { Purchase } from '../../purchase/purchase.ts';
import type { WaitingRoom } from '../../waiting-room/waiting-room.ts';
import type { UserAuth } from '../auth.ts';
import { sendAppError } from '../errors.ts';
import { purchaseOutcomeHooks } from '../purchase-outcomes.ts';
import { Challenge, errors } from '../response-schemas.ts';
import { DecimalId, IdParams, PurchaseBody } from '../schemas.ts';

const doc = { tags: ['buyer'], security: [{ userBearer: [] }] };

export interface PurchaseRouteDeps {
  purchase: Purchase;
  guard: Pick<Guard, 'shedder' | 'challenges'>;
  catalog: Pick<Catalog, 'require'>;
  userAuth: UserAuth;
  metrics: Pick<Metrics, 'purchases'>;
  waitingRoom: Pick<WaitingRoom, 'requirePass' | 'recordPurchase'>;
}

/** The waiting room's pass travels in a header, so the purchase body and the challenge (no body) carry it alike. */
const PASS_HEADER = 'x-seckill-pass';
const PassHeaders = Type.Object({
  [PASS_HEADER]: Type.Optional(Type.String({ maxLength: 512, description: "sales with a waiting room: the admitted ticket's pass" })),
});
const passOf = (headers: Record<string, string | string[] | undefined>): string | undefined => {
  const value = headers[PASS_HEADER];
  return Array.isArray(value) ? value[0] : value;
};

export function purchaseRoutes(deps: PurchaseRouteDeps): FastifyPluginAsyncTypebox {
  const { purchase, userAuth, guard, catalog, metrics, waitingRoom } = deps;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };
    const outcomes = purchaseOutcomeHooks(app, metrics.purchases);

    app.post(
      '/api/v1/activities/:id/purchase',
      {
        ...authenticated,
        // Load shedding answers before the body is even parsed; the slot is held in the handler.
        onRequest: async () => guard.shedder.precheck(),
        // Every answer of this route, whichever stage gave it, is counted once (seckill_purchase_total).
        onError: outcomes.onError,
        onResponse: outcomes.onResponse,
        schema: {
          ...doc,
          operationId: 'purchase',
          summary: 'Buy: reserve units and queue the order',
          description:
            'Reserves units; the order is created asynchronously (poll GET /api/v1/orders/{orderId} or listen on /api/v1/ws). The same requestId from the same user gets the same answer and reserves nothing twice. After a 429 or a 503, retry the same requestId once Retry-After has passed. A sale with a waiting room needs the pass of an admitted ticket in the X-Seckill-Pass header (403 PASS_REQUIRED | PASS_INVALID | PASS_EXPIRED otherwise; nothing is reserved without it).',
          params: IdParams,
          headers: PassHeaders,
          body: PurchaseBody,
          response: {
            202: Type.Object(
              { orderId: DecimalId, status: Type.Literal('QUEUED') },
              { description: 'Units reserved; the order is being created (a replay of the same requestId gets the same body).' },
            ),
            ...errors(
              'INVALID_REQUEST',
              'UNAUTHORIZED',
              'NOT_STARTED',
              'ENDED',
              'PAUSED',
              'CHALLENGE_REQUIRED',
              'CHALLENGE_FAILED',
              'PASS_REQUIRED',
              'PASS_INVALID',
              'PASS_EXPIRED',
              'NOT_FOUND',
              'SOLD_OUT',
              'LIMIT_EXCEEDED',
              'RATE_LIMITED',
            ),
          },
        },
      },
      async (request, reply) => {
        let accepted: PurchaseAccepted;
        try {
          accepted = await guard.shedder.run(() =>
            purchase.purchase({
              userId: request.userId,
              activityId: request.params.id,
              requestId: request.body.requestId,
              quantity: request.body.quantity,
              ip: request.ip,
              challenge: request.body.challenge,
              pass: passOf(request.headers),
            }),
          );
        } catch (error) {
          // SOLD_OUT, LIMIT_EXCEEDED, BUSY...: most of a rush's answers. Written here, not through
          // Fastify's error path (onError hooks, then the error handler), which costs each about
          // 10 µs more on this machine (bench/RESULTS.md); anything else still goes that way.
          if (!(error instanceof AppError)) throw error;
          outcomes.refused(request, error);
          return sendAppError(request, reply, error);
        }
        outcomes.accepted(request, accepted);
        if (accepted.outcome === 'RESERVED') {
          // Only counts (the share of admitted people who buy): never delays nor fails the answer.
          waitingRoom.recordPurchase(request.userId, request.params.id).catch(() => {});
        }
        return reply.status(202).send({ orderId: accepted.orderId, status: accepted.status });
      },
    );

    app.post(
      '/api/v1/activities/:id/challenge',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'createChallenge',
          summary: 'Get an anti-bot proof-of-work challenge for a purchase',
          description:
            'Anti-bot proof of work (activities with antiBot "challenge"; from 30 s before startAt): find a nonce such that SHA-256(prefix + nonce) starts with `difficulty` zero bits, and send {challengeId, nonce} as `challenge` in the purchase body. Single-use, bound to the user and the activity. A sale with a waiting room issues challenges only with a valid pass (X-Seckill-Pass): 403 PASS_REQUIRED | PASS_INVALID | PASS_EXPIRED.',
          params: IdParams,
          headers: PassHeaders,
          response: {
            201: Type.Object({ challenge: Challenge }, { description: 'A new challenge, valid until expiresAt.' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_STARTED', 'ENDED', 'PASS_REQUIRED', 'PASS_INVALID', 'PASS_EXPIRED', 'NOT_FOUND'),
          },
        },
      },
      async (request, reply) => {
        const activity = await catalog.require(request.params.id);
        waitingRoom.requirePass(request.userId, activity, passOf(request.headers));
        return reply.status(201).send({ challenge: await guard.challenges.issue(request.userId, activity) });
      },
    );
  };
}
