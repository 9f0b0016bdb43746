import { Type } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../domain/errors.ts';
import { parseCallbackBody, SIGNATURE_HEADER, verifySignature } from '../../lifecycle/payment-callback.ts';
import type { Payments } from '../../lifecycle/payments.ts';
import { errors, Ok } from '../response-schemas.ts';
import { Cents, DecimalId } from '../schemas.ts';

/** What the provider sends; documented here, checked by parseCallbackBody after the signature. */
const CallbackBody = Type.Object({
  paymentId: DecimalId,
  orderId: DecimalId,
  status: Type.Union([Type.Literal('SUCCEEDED'), Type.Literal('FAILED')]),
  amountCents: Cents,
});

/**
 * `POST /api/v1/payments/callback` from the payment provider. The body is kept as the raw string
 * (this plugin's own JSON parser), because the HMAC covers the exact bytes sent: the signature is
 * checked before the body is even parsed, and a bad one changes nothing.
 */
export function paymentCallbackRoutes(payments: Pick<Payments, 'callback'>, secret: string): FastifyPluginAsync {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.post(
      '/api/v1/payments/callback',
      {
        schema: {
          tags: ['payment provider'],
          security: [{ paymentSignature: [] }],
          operationId: 'paymentCallback',
          summary: "The payment provider's signed result of a payment",
          description:
            'Signed by the provider: X-Seckill-Signature: sha256=<hex HMAC-SHA256(SECKILL_PAYMENT_SECRET, raw body)>, else 401 BAD_SIGNATURE and nothing changes. SUCCEEDED on a PENDING_PAYMENT order → PAID; FAILED → CANCELLED (PAYMENT_FAILED); SUCCEEDED on an order already cancelled → stays CANCELLED and the payment is owed a refund (GET /api/v1/admin/refunds). Replays answer 200 and change nothing; a wrong amountCents is 400.',
          body: CallbackBody,
          response: { 200: { ...Ok, description: 'Applied, or a replay that changed nothing.' }, ...errors('INVALID_REQUEST', 'BAD_SIGNATURE', 'NOT_FOUND') },
        },
        // The body is still the raw string when validation would run (the signature needs the
        // exact bytes): the schema above is for the document, parseCallbackBody is the check.
        validatorCompiler: () => () => true,
      },
      async (request) => {
        const raw = typeof request.body === 'string' ? request.body : '';
        const signature = request.headers[SIGNATURE_HEADER];
        if (!verifySignature(secret, raw, Array.isArray(signature) ? signature[0] : signature)) {
          throw new AppError('BAD_SIGNATURE', 'missing or invalid X-Seckill-Signature');
        }
        await payments.callback(parseCallbackBody(raw));
        return { ok: true };
      },
    );
  };
}
