import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Metrics } from '../../metrics.ts';
import type { Services } from '../../services/container.ts';
import { purchaseOutcomeHooks } from '../purchase-outcomes.ts';
import { Challenge, errors, Order } from '../response-schemas.ts';
import { DecimalId, DevTokenBody, IdParams, OrderParams, PurchaseBody } from '../schemas.ts';

const doc = { tags: ['buyer'], security: [{ userBearer: [] }] };

/** A buyer's endpoints; the user id always comes from the token, never from the body or query. */
export function userRoutes(services: Services, options: { devTokens: boolean; metrics: Pick<Metrics, 'purchases'> }): FastifyPluginAsyncTypebox {
  const { purchase, orders, userAuth, guard, catalog } = services;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };
    const outcomes = purchaseOutcomeHooks(app, options.metrics.purchases);

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
          description:
            'Reserves units; the order is created asynchronously (poll GET /api/v1/orders/{orderId} or listen on /api/v1/ws). The same requestId from the same user gets the same answer and reserves nothing twice. 409 SOLD_OUT | LIMIT_EXCEEDED, 403 NOT_STARTED | ENDED | CHALLENGE_REQUIRED | CHALLENGE_FAILED, 429 RATE_LIMITED and 503 BUSY come with Retry-After.',
          params: IdParams,
          body: PurchaseBody,
          response: {
            202: Type.Object({ orderId: DecimalId, status: Type.Literal('QUEUED') }),
            ...errors(400, 401, 403, 404, 409, 429),
          },
        },
      },
      async (request, reply) => {
        const accepted = await guard.shedder.run(() =>
          purchase.purchase({
            userId: request.userId,
            activityId: request.params.id,
            requestId: request.body.requestId,
            quantity: request.body.quantity,
            ip: request.ip,
            challenge: request.body.challenge,
          }),
        );
        outcomes.accepted(request, accepted);
        return reply.status(202).send({ orderId: accepted.orderId, status: accepted.status });
      },
    );

    app.post(
      '/api/v1/activities/:id/challenge',
      {
        ...authenticated,
        schema: {
          ...doc,
          description:
            'Anti-bot proof of work (activities with antiBot "challenge"; from 30 s before startAt): find a nonce such that SHA-256(prefix + nonce) starts with `difficulty` zero bits, and send {challengeId, nonce} as `challenge` in the purchase body. Single-use, bound to the user and the activity.',
          params: IdParams,
          response: { 201: Type.Object({ challenge: Challenge }), ...errors(400, 401, 403, 404, 429) },
        },
      },
      async (request, reply) => {
        const activity = await catalog.require(request.params.id);
        return reply.status(201).send({ challenge: await guard.challenges.issue(request.userId, activity) });
      },
    );

    app.get(
      '/api/v1/orders/:orderId',
      {
        ...authenticated,
        schema: {
          ...doc,
          description: "Another user's order is 404 (existence is not leaked).",
          params: OrderParams,
          response: { 200: Type.Object({ order: Order }), ...errors(400, 401, 404) },
        },
      },
      async (request) => ({ order: await orders.get(request.userId, request.params.orderId) }),
    );

    app.get(
      '/api/v1/activities/:id/my-order',
      {
        ...authenticated,
        schema: {
          ...doc,
          description: "The caller's latest order in the activity, or 404.",
          params: IdParams,
          response: { 200: Type.Object({ order: Order }), ...errors(400, 401, 404) },
        },
      },
      async (request) => ({ order: await orders.latest(request.userId, request.params.id) }),
    );

    // Exists only for the demo and the web page's dev login; otherwise the route is absent (404).
    if (options.devTokens) {
      app.post(
        '/api/v1/dev/token',
        {
          schema: {
            tags: ['dev'],
            description: 'Development only (SECKILL_DEV_TOKENS=1): a user token for any user id.',
            body: DevTokenBody,
            response: { 200: Type.Object({ token: Type.String() }), ...errors(400) },
          },
        },
        async (request) => ({ token: userAuth.issue(request.body.userId) }),
      );
    }
  };
}
