import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Services } from '../../services/container.ts';
import { errors, Waitlist } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const doc = { tags: ['waitlist'], security: [{ userBearer: [] }] };

/** The waitlist (候补), API.md "Waitlist": join while sold out, see the entry, leave. */
export function waitlistRoutes(services: Services): FastifyPluginAsyncTypebox {
  const { waitlist, userAuth } = services;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: {
          ...doc,
          description:
            'Joins the waitlist, only while SOLD_OUT (409 NOT_SOLD_OUT otherwise); joining twice returns the same entry. Returned units are offered in order (pushed on /api/v1/ws); an offered user buys with the normal purchase before offerExpiresAt.',
          params: IdParams,
          response: { 201: Type.Object({ waitlist: Waitlist }), ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => reply.status(201).send({ waitlist: await waitlist.join(request.userId, request.params.id) }),
    );

    app.get(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: { ...doc, description: "The caller's entry, or 404.", params: IdParams, response: { 200: Type.Object({ waitlist: Waitlist }), ...errors(400, 401, 404) } },
      },
      async (request) => ({ waitlist: await waitlist.get(request.userId, request.params.id) }),
    );

    app.delete(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: {
          ...doc,
          description: 'Leaves the waitlist; an offer held is passed to the next in line.',
          params: IdParams,
          response: { 204: Type.Null({ description: 'left' }), ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await waitlist.leave(request.userId, request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
