import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../domain/errors.ts';
import type { Services } from '../../services/container.ts';
import { parseCallbackBody, SIGNATURE_HEADER, verifySignature } from '../../services/payments.ts';

/**
 * `POST /api/v1/payments/callback` from the payment provider. The body is kept as the raw string
 * (this plugin's own JSON parser), because the HMAC covers the exact bytes sent: the signature is
 * checked before the body is even parsed, and a bad one changes nothing.
 */
export function paymentRoutes(services: Services, secret: string): FastifyPluginAsync {
  const { payments } = services;
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.post('/api/v1/payments/callback', async (request) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      const signature = request.headers[SIGNATURE_HEADER];
      if (!verifySignature(secret, raw, Array.isArray(signature) ? signature[0] : signature)) {
        throw new AppError('BAD_SIGNATURE', 'missing or invalid X-Seckill-Signature');
      }
      await payments.callback(parseCallbackBody(raw));
      return { ok: true };
    });
  };
}
