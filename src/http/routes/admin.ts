import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { activityJson } from '../../domain/activity.ts';
import type { Services } from '../../services/container.ts';
import { CreateActivityBody, CreateCommodityBody, IdParams, UpdateActivityBody } from '../schemas.ts';

/** `/api/v1/admin/*`: setting up sales and looking after their stock (admin bearer token). */
export function adminRoutes(services: Services): FastifyPluginAsyncTypebox {
  const { catalog, inventory, adminAuth } = services;
  return async (app) => {
    app.addHook('onRequest', async (request) => adminAuth(request));

    app.post('/api/v1/admin/commodities', { schema: { body: CreateCommodityBody } }, async (request, reply) => {
      const commodity = await catalog.createCommodity(request.body);
      return reply.status(201).send({ commodity });
    });

    app.post('/api/v1/admin/activities', { schema: { body: CreateActivityBody } }, async (request, reply) => {
      const activity = await catalog.createActivity(request.body);
      return reply.status(201).send({ activity: activityJson(activity) });
    });

    app.get('/api/v1/admin/activities', async () => ({ activities: (await catalog.list()).map(activityJson) }));

    app.patch('/api/v1/admin/activities/:id', { schema: { params: IdParams, body: UpdateActivityBody } }, async (request) => {
      const activity = await catalog.updateActivity(request.params.id, request.body);
      return { activity: activityJson(activity) };
    });

    app.post('/api/v1/admin/activities/:id/preheat', { schema: { params: IdParams } }, async (request) => {
      const activity = await catalog.require(request.params.id);
      const { after } = await inventory.loadFromTruth(activity);
      return { activityId: activity.id, remaining: after };
    });

    app.post('/api/v1/admin/activities/:id/reconcile', { schema: { params: IdParams } }, async (request) => {
      const activity = await catalog.require(request.params.id);
      // Also returns cancelled orders' units that never reached Redis and releases lost reservations.
      const { before, after, repaired } = await services.reconciler.reconcile(activity);
      return { activityId: activity.id, before, after, repaired };
    });

    app.get('/api/v1/admin/activities/:id/stats', { schema: { params: IdParams } }, async (request) => {
      const activity = await catalog.require(request.params.id);
      return inventory.stats(activity);
    });
  };
}
