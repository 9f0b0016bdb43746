import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { activityJson } from '../../domain/activity.ts';
import type { Services } from '../../services/container.ts';
import {
  ActivityStats,
  AdminActivity,
  Commodity,
  errors,
  Refund,
  Remaining,
} from '../response-schemas.ts';
import { CreateActivityBody, CreateCommodityBody, DecimalId, IdParams, UpdateActivityBody } from '../schemas.ts';

const doc = { tags: ['admin'], security: [{ adminBearer: [] }] };

// Query strings are strings (the server's Ajv does not coerce), so the range is in the pattern.
const RefundsQuery = Type.Object({
  status: Type.Union([Type.Literal('REFUND_REQUIRED'), Type.Literal('REFUNDED')], { default: 'REFUND_REQUIRED' }),
  limit: Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|[1-4][0-9][0-9]|500)$', default: '100', description: '1..500' }),
  after: Type.Optional({ ...DecimalId, description: 'the last paymentId of the previous page' }),
});

/** `/api/v1/admin/*`: setting up sales and looking after their stock (admin bearer token). */
export function adminRoutes(services: Services): FastifyPluginAsyncTypebox {
  const { catalog, inventory, adminAuth, payments } = services;
  return async (app) => {
    app.addHook('onRequest', async (request) => adminAuth(request));

    app.post(
      '/api/v1/admin/commodities',
      { schema: { ...doc, body: CreateCommodityBody, response: { 201: Type.Object({ commodity: Commodity }), ...errors(400, 401) } } },
      async (request, reply) => {
        const commodity = await catalog.createCommodity(request.body);
        return reply.status(201).send({ commodity });
      },
    );

    app.post(
      '/api/v1/admin/activities',
      {
        schema: {
          ...doc,
          description: 'The stock is pre-heated into Redis before startAt without any further call.',
          body: CreateActivityBody,
          response: { 201: Type.Object({ activity: AdminActivity }), ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        const activity = await catalog.createActivity(request.body);
        return reply.status(201).send({ activity: activityJson(activity) });
      },
    );

    app.get(
      '/api/v1/admin/activities',
      { schema: { ...doc, response: { 200: Type.Object({ activities: Type.Array(AdminActivity) }), ...errors(401) } } },
      async () => ({ activities: (await catalog.list()).map(activityJson) }),
    );

    app.patch(
      '/api/v1/admin/activities/:id',
      {
        schema: {
          ...doc,
          description: "Every instance's public detail shows the change within one second.",
          params: IdParams,
          body: UpdateActivityBody,
          response: { 200: Type.Object({ activity: AdminActivity }), ...errors(400, 401, 404) },
        },
      },
      async (request) => {
        const activity = await catalog.updateActivity(request.params.id, request.body);
        return { activity: activityJson(activity) };
      },
    );

    app.post(
      '/api/v1/admin/activities/:id/preheat',
      {
        schema: {
          ...doc,
          description: "(Re)loads Redis from MySQL's truth; idempotent; never raises what can be sold above what MySQL still has.",
          params: IdParams,
          response: { 200: Type.Object({ activityId: DecimalId, remaining: Type.Integer() }), ...errors(400, 401, 404) },
        },
      },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        const { after } = await inventory.loadFromTruth(activity);
        return { activityId: activity.id, remaining: after };
      },
    );

    app.post(
      '/api/v1/admin/activities/:id/reconcile',
      {
        schema: {
          ...doc,
          description: 'Recomputes what Redis should hold from MySQL and in-flight reservations; repairs drift in the safe direction.',
          params: IdParams,
          response: {
            200: Type.Object({ activityId: DecimalId, before: Remaining, after: Remaining, repaired: Type.Boolean() }),
            ...errors(400, 401, 404),
          },
        },
      },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        // Also returns cancelled orders' units that never reached Redis and releases lost reservations.
        const { before, after, repaired } = await services.reconciler.reconcile(activity);
        return { activityId: activity.id, before, after, repaired };
      },
    );

    app.get(
      '/api/v1/admin/activities/:id/stats',
      { schema: { ...doc, params: IdParams, response: { 200: ActivityStats, ...errors(400, 401, 404) } } },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        return inventory.stats(activity);
      },
    );

    // Refunds owed: payments that succeeded after their order was cancelled (too late to sell the
    // unit twice). The operator pays the money back outside this system, then marks it here.
    app.get(
      '/api/v1/admin/refunds',
      {
        schema: {
          ...doc,
          description:
            'Payments that succeeded after their order was cancelled, oldest first. `count` and `totalCents` cover every payment with the status, not just this page; page on with `after` = the last paymentId.',
          querystring: RefundsQuery,
          response: {
            200: Type.Object({ refunds: Type.Array(Refund), count: Type.Integer({ minimum: 0 }), totalCents: Type.Integer({ minimum: 0 }) }),
            ...errors(400, 401),
          },
        },
      },
      async (request) => {
        const { status, limit, after } = request.query;
        return payments.listRefunds({ status, limit: Number(limit), after });
      },
    );

    app.post(
      '/api/v1/admin/refunds/:paymentId/refunded',
      {
        schema: {
          ...doc,
          description:
            'Records that the money was given back: REFUND_REQUIRED → REFUNDED. Idempotent; 409 NOT_REFUNDABLE if the payment is not owed a refund.',
          params: Type.Object({ paymentId: DecimalId }),
          response: { 200: Type.Object({ refund: Refund }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ({ refund: await payments.markRefunded(request.params.paymentId) }),
    );
  };
}
