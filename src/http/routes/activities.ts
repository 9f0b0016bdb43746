/** Anonymous reads: server time for countdowns, and the activity detail a buyer's page shows. */
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { activityStatus, waitingRoomJson } from '../../domain/activity.ts';
import { hasWaitingRoom } from '../../domain/waiting-room.ts';
import type { ActivityCache } from '../../inventory/activity-cache.ts';
import type { Catalog } from '../../inventory/catalog.ts';
import { errors, PublicActivity } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const doc = { tags: ['public'] };

export interface ActivityRouteDeps {
  catalog: Pick<Catalog, 'require'>;
  activities: Pick<ActivityCache, 'remaining'>;
}

export function activityRoutes(deps: ActivityRouteDeps): FastifyPluginAsyncTypebox {
  const { catalog, activities } = deps;
  return async (app) => {
    app.get(
      '/api/v1/time',
      {
        schema: {
          ...doc,
          operationId: 'getServerTime',
          summary: "The server's clock",
          description: 'Server time, for countdowns.',
          response: {
            200: Type.Object({ now: Type.String({ format: 'date-time' }), epochMs: Type.Integer() }, { description: 'The time now, as ISO-8601 UTC and epoch ms.' }),
            ...errors(),
          },
        },
      },
      async () => {
        const now = Date.now();
        return { now: new Date(now).toISOString(), epochMs: now };
      },
    );

    app.get(
      '/api/v1/activities/:id',
      {
        schema: {
          ...doc,
          operationId: 'getActivity',
          summary: 'Read a sale as a buyer sees it',
          description: '`remaining` may lag by a moment: this endpoint is served from cache under load.',
          params: IdParams,
          response: {
            200: Type.Object({ activity: PublicActivity }, { description: 'The activity, its status and what remains.' }),
            ...errors('INVALID_REQUEST', 'NOT_FOUND'),
          },
        },
      },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        // Served from the read-path cache (local → Redis → MySQL); `remaining` may lag by ~50 ms.
        const left = await activities.remaining(activity.id);
        return {
          activity: {
            id: activity.id,
            name: activity.name,
            priceCents: activity.priceCents,
            startAt: activity.startAt.toISOString(),
            endAt: activity.endAt.toISOString(),
            limitPerUser: activity.limitPerUser,
            status: activityStatus(activity, left, Date.now()),
            remaining: left,
            stock: activity.stock,
            antiBot: activity.antiBot,
            paused: activity.paused,
            ...(hasWaitingRoom(activity.waitingRoom)
              ? { waitingRoom: { mode: activity.waitingRoom.mode, prequeueOpensAt: waitingRoomJson(activity).prequeueOpensAt } }
              : {}),
            commodity: activity.commodity,
          },
        };
      },
    );
  };
}
