import type { AddressInfo } from 'node:net';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../services/container.ts';
import { errors, Order, Payment } from '../response-schemas.ts';
import { OrderParams } from '../schemas.ts';

const doc = { tags: ['buyer'], security: [{ userBearer: [] }] };

/** Where the built-in payment simulator calls back: this very server. */
function selfUrl(request: FastifyRequest): string {
  const address = request.server.server.address() as AddressInfo | null;
  if (!address) return `${request.protocol}://${request.host}`;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return `http://${address.family === 'IPv6' && host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** The owner's moves after the win: pay, cancel (issue #4). */
export function orderLifecycleRoutes(services: Services): FastifyPluginAsyncTypebox {
  const { payments, paymentSimulator, cancellation, userAuth } = services;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post(
      '/api/v1/orders/:orderId/pay',
      {
        ...authenticated,
        schema: {
          ...doc,
          description:
            'Opens the payment of a PENDING_PAYMENT order (409 ORDER_NOT_PAYABLE otherwise); paying twice returns the same payment. The provider then calls POST /api/v1/payments/callback.',
          params: OrderParams,
          response: { 201: Type.Object({ payment: Payment }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request, reply) => {
        const payment = await payments.pay(request.userId, request.params.orderId);
        if (payment.status === 'PROCESSING') paymentSimulator.schedule(payment, selfUrl(request));
        return reply.status(201).send({ payment });
      },
    );

    app.post(
      '/api/v1/orders/:orderId/cancel',
      {
        ...authenticated,
        schema: {
          ...doc,
          description:
            'CANCELLED (USER_CANCELLED); the units go back on sale. Cancelling a cancelled order returns it unchanged; a PAID order is 409 ORDER_NOT_CANCELLABLE.',
          params: OrderParams,
          response: { 200: Type.Object({ order: Order }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ({ order: await cancellation.cancelByUser(request.userId, request.params.orderId) }),
    );

    app.addHook('onClose', async () => paymentSimulator.close());
  };
}
