/**
 * `POST /api/v1/dev/token`: a user token for any user id, for the demo and the web page's dev login.
 * The composition root registers it only with SECKILL_DEV_TOKENS=1; otherwise the route is absent (404).
 */
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { UserAuth } from '../auth.ts';
import { errors } from '../response-schemas.ts';
import { DevTokenBody } from '../schemas.ts';

export function devTokenRoutes(userAuth: Pick<UserAuth, 'issue'>): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/v1/dev/token',
      {
        schema: {
          tags: ['dev'],
          operationId: 'createDevToken',
          summary: 'Get a user token for any user id (development only)',
          description: 'Development only (SECKILL_DEV_TOKENS=1): a user token for any user id.',
          body: DevTokenBody,
          response: { 200: Type.Object({ token: Type.String() }, { description: 'A user JWT (Authorization: Bearer <token>).' }), ...errors('INVALID_REQUEST') },
        },
      },
      async (request) => ({ token: userAuth.issue(request.body.userId) }),
    );
  };
}
