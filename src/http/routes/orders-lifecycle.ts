import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../services/container.ts';
import { OrderParams } from '../schemas.ts';

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

    app.post('/api/v1/orders/:orderId/pay', { ...authenticated, schema: { params: OrderParams } }, async (request, reply) => {
      const payment = await payments.pay(request.userId, request.params.orderId);
      if (payment.status === 'PROCESSING') paymentSimulator.schedule(payment, selfUrl(request));
      return reply.status(201).send({ payment });
    });

    app.post('/api/v1/orders/:orderId/cancel', { ...authenticated, schema: { params: OrderParams } }, async (request) => ({
      order: await cancellation.cancelByUser(request.userId, request.params.orderId),
    }));

    app.addHook('onClose', async () => paymentSimulator.close());
  };
}
