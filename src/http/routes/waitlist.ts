import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../services/container.ts';
import { IdParams } from '../schemas.ts';

/** The waitlist (候补), API.md "Waitlist": join while sold out, see the entry, leave. */
export function waitlistRoutes(services: Services): FastifyPluginAsyncTypebox {
  const { waitlist, userAuth } = services;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post('/api/v1/activities/:id/waitlist', { ...authenticated, schema: { params: IdParams } }, async (request, reply) =>
      reply.status(201).send({ waitlist: await waitlist.join(request.userId, request.params.id) }),
    );

    app.get('/api/v1/activities/:id/waitlist', { ...authenticated, schema: { params: IdParams } }, async (request) => ({
      waitlist: await waitlist.get(request.userId, request.params.id),
    }));

    app.delete('/api/v1/activities/:id/waitlist', { ...authenticated, schema: { params: IdParams } }, async (request, reply) => {
      await waitlist.leave(request.userId, request.params.id);
      return reply.status(204).send();
    });
  };
}
