import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { WaitingRoom } from '../../waiting-room/waiting-room.ts';
import type { UserAuth } from '../auth.ts';
import { errors, Ticket } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const doc = { tags: ['waiting room'], security: [{ userBearer: [] }] };

/** The waiting room (排队): join, see the ticket (which also keeps the place), leave. */
export function queueRoutes(deps: { waitingRoom: Pick<WaitingRoom, 'join' | 'get' | 'leave'>; userAuth: UserAuth }): FastifyPluginAsyncTypebox {
  const { waitingRoom, userAuth } = deps;
  return async (app) => {
    const authenticated = { preValidation: userAuth.authenticate };

    app.post(
      '/api/v1/activities/:id/queue',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'joinQueue',
          summary: "Join a sale's waiting room",
          description:
            "Joins the sale's waiting room (from waitingRoom.prequeueOpensAt; 403 NOT_STARTED before, 403 ENDED after the end, 409 NO_WAITING_ROOM when the sale has none). Joining twice returns the same ticket. Changes are pushed on /api/v1/ws (`queue`, `queue-progress`); a page that polls GET this path after `pollAfterMs` — the poll is also what keeps the place.",
          params: IdParams,
          response: {
            201: Type.Object({ ticket: Ticket }, { description: 'Your ticket (the same one when you had joined already).' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_STARTED', 'ENDED', 'NOT_FOUND', 'NO_WAITING_ROOM'),
          },
        },
      },
      async (request, reply) => reply.status(201).send({ ticket: await waitingRoom.join(request.userId, request.params.id) }),
    );

    app.get(
      '/api/v1/activities/:id/queue',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'getQueueTicket',
          summary: 'Read your waiting-room ticket (and keep your place)',
          description: "The caller's ticket (404 without one). Each call counts as the heartbeat that keeps a waiting place: silent for the sale's keepSeconds, the place is dropped (CLOSED ABANDONED).",
          params: IdParams,
          response: {
            200: Type.Object({ ticket: Ticket }, { description: 'Your ticket as it is now.' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'NO_WAITING_ROOM'),
          },
        },
      },
      async (request) => ({ ticket: await waitingRoom.get(request.userId, request.params.id) }),
    );

    app.delete(
      '/api/v1/activities/:id/queue',
      {
        ...authenticated,
        schema: {
          ...doc,
          operationId: 'leaveQueue',
          summary: 'Leave a waiting room',
          description: 'Leaves the waiting room (a pass held is given up); 404 without a place.',
          params: IdParams,
          response: { 204: Type.Null({ description: 'Left: the place (and any pass) is given up.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'NO_WAITING_ROOM') },
        },
      },
      async (request, reply) => {
        await waitingRoom.leave(request.userId, request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
