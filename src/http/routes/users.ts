import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../services/container.ts';
import { DevTokenBody, IdParams, OrderParams, PurchaseBody } from '../schemas.ts';

/** A buyer's endpoints; the user id always comes from the token, never from the body or query. */
export function userRoutes(services: Services, options: { devTokens: boolean }): FastifyPluginAsyncTypebox {
  const { purchase, orders, userAuth, guard, catalog } = services;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post(
      '/api/v1/activities/:id/purchase',
      {
        ...authenticated,
        // Load shedding answers before the body is even parsed; the slot is held in the handler.
        onRequest: async () => guard.shedder.precheck(),
        schema: { params: IdParams, body: PurchaseBody },
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
        return reply.status(202).send(accepted);
      },
    );

    app.post('/api/v1/activities/:id/challenge', { ...authenticated, schema: { params: IdParams } }, async (request, reply) => {
      const activity = await catalog.require(request.params.id);
      return reply.status(201).send({ challenge: await guard.challenges.issue(request.userId, activity) });
    });

    app.get('/api/v1/orders/:orderId', { ...authenticated, schema: { params: OrderParams } }, async (request) => ({
      order: await orders.get(request.userId, request.params.orderId),
    }));

    app.get('/api/v1/activities/:id/my-order', { ...authenticated, schema: { params: IdParams } }, async (request) => ({
      order: await orders.latest(request.userId, request.params.id),
    }));

    // Exists only for the demo and the web page's dev login; otherwise the route is absent (404).
    if (options.devTokens) {
      app.post('/api/v1/dev/token', { schema: { body: DevTokenBody } }, async (request) => ({
        token: userAuth.issue(request.body.userId),
      }));
    }
  };
}
