import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Waitlist as WaitlistService } from '../../lifecycle/waitlist.ts';
import type { UserAuth } from '../auth.ts';
import { errors, Waitlist } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const doc = { tags: ['waitlist'], security: [{ userBearer: [] }] };

/** The waitlist (候补, docs/api.md "Waitlist"): join while sold out, see the entry, leave. */
export function waitlistRoutes(deps: { waitlist: Pick<WaitlistService, 'join' | 'get' | 'leave'>; userAuth: UserAuth }): FastifyPluginAsyncTypebox {
  const { waitlist, userAuth } = deps;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'joinWaitlist',
          summary: 'Join the waitlist of a sold-out sale',
          description:
            'Joins the waitlist, only while SOLD_OUT (409 NOT_SOLD_OUT otherwise); joining twice returns the same entry. Returned units are offered in order (pushed on /api/v1/ws); an offered user buys with the normal purchase before offerExpiresAt.',
          params: IdParams,
          response: {
            201: Type.Object({ waitlist: Waitlist }, { description: "The caller's entry (the same one when joining twice)." }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'ENDED', 'NOT_FOUND', 'NOT_SOLD_OUT'),
          },
        },
      },
      async (request, reply) => reply.status(201).send({ waitlist: await waitlist.join(request.userId, request.params.id) }),
    );

    app.get(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'getWaitlistEntry',
          summary: 'Read your waitlist entry',
          description: "The caller's entry, or 404.",
          params: IdParams,
          response: { 200: Type.Object({ waitlist: Waitlist }, { description: "The caller's entry." }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request) => ({ waitlist: await waitlist.get(request.userId, request.params.id) }),
    );

    app.delete(
      '/api/v1/activities/:id/waitlist',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'leaveWaitlist',
          summary: 'Leave the waitlist',
          description: 'Leaves the waitlist; an offer held is passed to the next in line.',
          params: IdParams,
          response: { 204: Type.Null({ description: 'Left the waitlist.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request, reply) => {
        await waitlist.leave(request.userId, request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
