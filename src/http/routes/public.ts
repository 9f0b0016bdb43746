import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { activityStatus } from '../../domain/activity.ts';
import type { Infra } from '../../infra.ts';
import type { Services } from '../../services/container.ts';
import { errors, PublicActivity } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const doc = { tags: ['public'] };

/** Anonymous reads: server time for countdowns, and the activity detail. */
export function publicRoutes(_infra: Infra, services: Services): FastifyPluginAsyncTypebox {
  const { catalog, activities } = services;
  return async (app) => {
    app.get(
      '/api/v1/time',
      {
        schema: {
          ...doc,
          description: 'Server time, for countdowns.',
          response: { 200: Type.Object({ now: Type.String({ format: 'date-time' }), epochMs: Type.Integer() }), ...errors() },
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
          description: '`remaining` may lag by a moment: this endpoint is served from cache under load.',
          params: IdParams,
          response: { 200: Type.Object({ activity: PublicActivity }), ...errors(400, 404) },
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
            commodity: activity.commodity,
          },
        };
      },
    );
  };
}
