import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { activityStatus } from '../../domain/activity.ts';
import { remaining } from '../../redis/stock.ts';
import type { Infra } from '../../infra.ts';
import type { Services } from '../../services/container.ts';
import { IdParams } from '../schemas.ts';

/** Anonymous reads: server time for countdowns, and the activity detail. */
export function publicRoutes(infra: Infra, services: Services): FastifyPluginAsyncTypebox {
  const { catalog } = services;
  return async (app) => {
    app.get('/api/v1/time', async () => {
      const now = Date.now();
      return { now: new Date(now).toISOString(), epochMs: now };
    });

    app.get('/api/v1/activities/:id', { schema: { params: IdParams } }, async (request) => {
      const activity = await catalog.require(request.params.id);
      const left = Math.max(0, (await remaining(infra.redis, infra.keys, activity.id)) ?? 0);
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
    });
  };
}
