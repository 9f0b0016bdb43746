/**
 * A buyer's orders: reading them (by id, or the latest in an activity) and the owner's moves after
 * the win, pay and cancel. Someone else's order is answered as if it did not exist.
 */
import type { AddressInfo } from 'node:net';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Cancellation } from '../../lifecycle/cancellation.ts';
import type { Orders } from '../../lifecycle/orders.ts';
import type { PaymentSimulator } from '../../lifecycle/payment-simulator.ts';
import type { Payments } from '../../lifecycle/payments.ts';
import type { UserAuth } from '../auth.ts';
import { errors, Order, Payment } from '../response-schemas.ts';
import { IdParams, OrderParams } from '../schemas.ts';

const doc = { tags: ['buyer'], security: [{ userBearer: [] }] };

/** Where the built-in payment simulator calls back: this very server. */
function selfUrl(request: FastifyRequest): string {
  const address = request.server.server.address() as AddressInfo | null;
  if (!address) return `${request.protocol}://${request.host}`;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return `http://${address.family === 'IPv6' && host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

export interface OrderRouteDeps {
  orders: Pick<Orders, 'get' | 'latest'>;
  payments: Pick<Payments, 'pay'>;
  paymentSimulator: PaymentSimulator;
  cancellation: Pick<Cancellation, 'cancelByUser'>;
  userAuth: UserAuth;
}

export function orderRoutes(deps: OrderRouteDeps): FastifyPluginAsyncTypebox {
  const { orders, payments, paymentSimulator, cancellation, userAuth } = deps;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.get(
      '/api/v1/orders/:orderId',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'getOrder',
          summary: 'Read one of your orders',
          description: "Another user's order is 404 (existence is not leaked).",
          params: OrderParams,
          response: { 200: Type.Object({ order: Order }, { description: 'The order.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
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
          operationId: 'getMyOrder',
          summary: 'Read your latest order in an activity',
          description: "The caller's latest order in the activity, or 404.",
          params: IdParams,
          response: {
            200: Type.Object({ order: Order }, { description: "The caller's latest order in the activity." }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
          },
        },
      },
      async (request) => ({ order: await orders.latest(request.userId, request.params.id) }),
    );

    app.post(
      '/api/v1/orders/:orderId/pay',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'payOrder',
          summary: 'Pay an order that is PENDING_PAYMENT',
          description:
            'Opens the payment of a PENDING_PAYMENT order (409 ORDER_NOT_PAYABLE otherwise); paying twice returns the same payment. The provider then calls POST /api/v1/payments/callback.',
          params: OrderParams,
          response: {
            201: Type.Object({ payment: Payment }, { description: 'The payment (the same one when paying twice).' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'ORDER_NOT_PAYABLE'),
          },
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
          operationId: 'cancelOrder',
          summary: 'Cancel one of your orders',
          description:
            'CANCELLED (USER_CANCELLED); the units go back on sale. Cancelling a cancelled order returns it unchanged; a PAID order is 409 ORDER_NOT_CANCELLABLE.',
          params: OrderParams,
          response: {
            200: Type.Object({ order: Order }, { description: 'The order, CANCELLED (USER_CANCELLED).' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'ORDER_NOT_CANCELLABLE'),
          },
        },
      },
      async (request) => ({ order: await cancellation.cancelByUser(request.userId, request.params.orderId) }),
    );

    app.addHook('onClose', async () => paymentSimulator.close());
  };
}
