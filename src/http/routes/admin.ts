/**
 * `/api/v1/admin/*` (admin bearer token): setting up sales, running them (edit, pause, resume, end
 * early), looking after their stock (preheat, reconcile, stats), the refunds owed, and the audit log
 * of all of these. The dashboard's live feed is served with the pages (web.ts).
 *
 * Every route that changes something names its action in `config.audit`; once it has answered, the
 * action is recorded (who, what, on what, the status, the body) whether it succeeded or was refused.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { type Activity, activityJson, adminActivityStatus } from '../../domain/activity.ts';
import { AppError } from '../../domain/errors.ts';
import type { ActivityCache } from '../../inventory/activity-cache.ts';
import type { Catalog } from '../../inventory/catalog.ts';
import type { Inventory } from '../../inventory/inventory.ts';
import type { Payments } from '../../lifecycle/payments.ts';
import { ACTOR_PATTERN, type AdminAudit } from '../../platform/admin-audit.ts';
import type { Reconciler } from '../../reconcile/reconcile.ts';
import type { WaitingRoom } from '../../waiting-room/waiting-room.ts';
import type { AdminAuth } from '../auth.ts';
import {
  ActivityStats,
  AdminActivity,
  AuditEntry,
  Commodity,
  errors,
  Refund,
  Remaining,
  WaitingRoomStats,
} from '../response-schemas.ts';
import { CreateActivityBody, CreateCommodityBody, DecimalId, IdParams, UpdateActivityBody } from '../schemas.ts';

/** The header naming the operator: the admin token is shared, so it cannot say who is calling. */
const ACTOR_HEADER = 'x-seckill-actor';
const validActor = (value: string | string[]): value is string => typeof value === 'string' && ACTOR_PATTERN.test(value);

const doc = {
  tags: ['admin'],
  security: [{ adminBearer: [] }],
  headers: Type.Object({
    [ACTOR_HEADER]: Type.Optional(
      Type.String({
        pattern: ACTOR_PATTERN.source,
        description: "the operator's name for the audit log (the admin token is shared); without it the log says \"admin\"",
      }),
    ),
  }),
};

// Query strings are strings (the server's Ajv does not coerce), so the range is in the pattern.
const RefundsQuery = Type.Object({
  status: Type.Union([Type.Literal('REFUND_REQUIRED'), Type.Literal('REFUNDED')], { default: 'REFUND_REQUIRED' }),
  limit: Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|[1-4][0-9][0-9]|500)$', default: '100', description: '1..500' }),
  after: Type.Optional({ ...DecimalId, description: 'the last paymentId of the previous page' }),
});

const AuditQuery = Type.Object({
  limit: Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|[1-4][0-9][0-9]|500)$', default: '100', description: '1..500' }),
  before: Type.Optional({ ...DecimalId, description: 'the last id of the previous page (entries come newest first)' }),
});

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The audit log's name for what this admin route does (routes that change nothing have none). */
    audit?: string;
  }
  interface FastifyRequest {
    /** The id an audited action acted on, when the route's params do not name it (a creation). */
    auditTarget: string;
  }
}

export interface AdminRouteDeps {
  catalog: Catalog;
  activities: Pick<ActivityCache, 'remaining'>;
  audit: AdminAudit;
  inventory: Pick<Inventory, 'loadFromTruth' | 'stats'>;
  reconciler: Reconciler;
  payments: Pick<Payments, 'listRefunds' | 'markRefunded'>;
  adminAuth: AdminAuth;
  waitingRoom: Pick<WaitingRoom, 'stats'>;
}

export function adminRoutes(deps: AdminRouteDeps): FastifyPluginAsyncTypebox {
  const { catalog, activities, inventory, reconciler, adminAuth, payments, audit, waitingRoom } = deps;

  /** The activity as the console shows it: with its status, which needs the units left. */
  const view = async (activity: Activity) => ({
    ...activityJson(activity),
    status: adminActivityStatus(activity, await activities.remaining(activity.id), Date.now()),
  });

  return async (app) => {
    app.decorateRequest('auditTarget', '');
    app.addHook('onRequest', async (request) => {
      adminAuth(request);
      const actor = request.headers[ACTOR_HEADER];
      if (actor !== undefined && !validActor(actor)) {
        throw new AppError('INVALID_REQUEST', `${ACTOR_HEADER} must be 1-40 characters of letters, digits, space and ._@- starting with a letter or digit`);
      }
    });
    app.addHook('onResponse', async (request, reply) => {
      const action = request.routeOptions.config.audit;
      const actor = request.headers[ACTOR_HEADER];
      // 401: not an admin, nothing to attribute; a refused actor name: nobody to attribute it to.
      if (action === undefined || reply.statusCode === 401 || (actor !== undefined && !validActor(actor))) return;
      const params = request.params as { id?: string; paymentId?: string } | undefined;
      await audit
        .record({
          actor: audit.actor(actor as string | undefined),
          action,
          target: params?.id ?? params?.paymentId ?? (request.auditTarget || undefined),
          status: reply.statusCode,
          detail: request.body,
        })
        .catch((error: unknown) => request.log.error({ err: error, action }, 'could not write the admin audit entry'));
    });

    app.post(
      '/api/v1/admin/commodities',
      {
        config: { audit: 'commodity.create' },
        schema: {
          ...doc,
          operationId: 'createCommodity',
          summary: 'Create a commodity (what a sale sells)',
          body: CreateCommodityBody,
          response: { 201: Type.Object({ commodity: Commodity }, { description: 'The commodity created.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED') },
        },
      },
      async (request, reply) => {
        const commodity = await catalog.createCommodity(request.body);
        request.auditTarget = commodity.id;
        return reply.status(201).send({ commodity });
      },
    );

    app.get(
      '/api/v1/admin/commodities',
      {
        schema: {
          ...doc,
          operationId: 'listCommodities',
          summary: 'List the latest 100 commodities',
          description: 'The latest 100 commodities, newest first (the console picks one when it creates an activity).',
          response: { 200: Type.Object({ commodities: Type.Array(Commodity) }, { description: 'The latest 100 commodities, newest first.' }), ...errors('UNAUTHORIZED') },
        },
      },
      async () => ({ commodities: await catalog.listCommodities() }),
    );

    app.post(
      '/api/v1/admin/activities',
      {
        config: { audit: 'activity.create' },
        schema: {
          ...doc,
          operationId: 'createActivity',
          summary: 'Create a sale (activity)',
          description: 'The stock is pre-heated into Redis before startAt without any further call; an unknown commodityId is 404.',
          body: CreateActivityBody,
          response: { 201: Type.Object({ activity: AdminActivity }, { description: 'The activity created.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request, reply) => {
        const activity = await catalog.createActivity(request.body);
        request.auditTarget = activity.id;
        return reply.status(201).send({ activity: await view(activity) });
      },
    );

    app.get(
      '/api/v1/admin/activities',
      {
        schema: {
          ...doc,
          operationId: 'listActivities',
          summary: 'List the latest 100 activities',
          response: { 200: Type.Object({ activities: Type.Array(AdminActivity) }, { description: 'The latest 100 activities, newest first.' }), ...errors('UNAUTHORIZED') },
        },
      },
      async () => ({ activities: await Promise.all((await catalog.list()).map(view)) }),
    );

    app.patch(
      '/api/v1/admin/activities/:id',
      {
        config: { audit: 'activity.update' },
        schema: {
          ...doc,
          operationId: 'updateActivity',
          summary: "Change an activity's name, price or end",
          description: "Every instance's public detail shows the change within one second.",
          params: IdParams,
          body: UpdateActivityBody,
          response: { 200: Type.Object({ activity: AdminActivity }, { description: 'The activity as changed.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request) => {
        const activity = await catalog.updateActivity(request.params.id, request.body);
        return { activity: await view(activity) };
      },
    );

    const saleControls = [
      {
        path: 'pause',
        action: 'activity.pause',
        operationId: 'pauseActivity',
        summary: 'Pause a sale',
        description:
          'Pauses the sale: from within a second on every instance, purchases answer 403 PAUSED and nothing is reserved; orders already made go on. Idempotent.',
        run: (id: string) => catalog.setPaused(id, true),
      },
      {
        path: 'resume',
        action: 'activity.resume',
        operationId: 'resumeActivity',
        summary: 'Resume a paused sale',
        description: 'Resumes a paused sale. Idempotent.',
        run: (id: string) => catalog.setPaused(id, false),
      },
      {
        path: 'end',
        action: 'activity.end',
        operationId: 'endActivity',
        summary: 'End a sale now',
        description:
          "Ends the sale now, by the server's clock: endAt becomes now (an upcoming sale also gets startAt just before it), purchases answer 403 ENDED. An ended sale is returned unchanged.",
        run: (id: string) => catalog.endNow(id),
      },
    ];
    for (const control of saleControls) {
      app.post(
        `/api/v1/admin/activities/:id/${control.path}`,
        {
          config: { audit: control.action },
          schema: {
            ...doc,
            operationId: control.operationId,
            summary: control.summary,
            description: control.description,
            params: IdParams,
            response: {
              200: Type.Object({ activity: AdminActivity }, { description: 'The activity as it is now.' }),
              ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
            },
          },
        },
        async (request) => ({ activity: await view(await control.run(request.params.id)) }),
      );
    }

    app.post(
      '/api/v1/admin/activities/:id/preheat',
      {
        config: { audit: 'activity.preheat' },
        schema: {
          ...doc,
          operationId: 'preheatActivity',
          summary: "(Re)load an activity's stock into Redis",
          description: "(Re)loads Redis from MySQL's truth; idempotent; never raises what can be sold above what MySQL still has.",
          params: IdParams,
          response: {
            200: Type.Object({ activityId: DecimalId, remaining: Type.Integer() }, { description: 'What Redis can sell now.' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
          },
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
        config: { audit: 'activity.reconcile' },
        schema: {
          ...doc,
          operationId: 'reconcileActivity',
          summary: 'Make Redis agree with MySQL for an activity',
          description: 'Recomputes what Redis should hold from MySQL and in-flight reservations; repairs drift in the safe direction.',
          params: IdParams,
          response: {
            200: Type.Object(
              { activityId: DecimalId, before: Remaining, after: Remaining, repaired: Type.Boolean() },
              { description: 'What Redis held before and holds after, and whether anything was repaired.' },
            ),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
          },
        },
      },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        // Also returns cancelled orders' units that never reached Redis and releases lost reservations.
        const { before, after, repaired } = await reconciler.reconcile(activity);
        return { activityId: activity.id, before, after, repaired };
      },
    );

    app.get(
      '/api/v1/admin/activities/:id/stats',
      {
        schema: {
          ...doc,
          operationId: 'getActivityStats',
          summary: "An activity's stock in Redis and MySQL, and its orders by status",
          params: IdParams,
          response: { 200: { ...ActivityStats, description: 'available + locked + sold = stock, always.' }, ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request) => {
        const activity = await catalog.require(request.params.id);
        return inventory.stats(activity);
      },
    );

    app.get(
      '/api/v1/admin/activities/:id/waiting-room',
      {
        schema: {
          ...doc,
          operationId: 'getWaitingRoomStats',
          summary: "Read a sale's waiting room: settings, sizes, counters",
          description: "The waiting room's settings, sizes and counters (people waiting, admitted, bought, abandoned, closed early, the measured pace).",
          params: IdParams,
          response: { 200: { ...WaitingRoomStats, description: 'The waiting room as it is now.' }, ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND') },
        },
      },
      async (request) => waitingRoom.stats(await catalog.require(request.params.id)),
    );

    // Pausing stops admission only: people keep joining and keep their places.
    for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
      app.post(
        `/api/v1/admin/activities/:id/waiting-room/${action}`,
        {
          config: { audit: `waiting-room.${action}` },
          schema: {
            ...doc,
            operationId: paused ? 'pauseWaitingRoom' : 'resumeWaitingRoom',
            summary: `${paused ? 'Pause' : 'Resume'} admission from a waiting room`,
            description: `${paused ? 'Stops' : 'Resumes'} admission from the waiting room (the same as PATCH with waitingRoom.paused = ${paused}); effective within a second.`,
            params: IdParams,
            response: {
              200: Type.Object({ activity: AdminActivity }, { description: 'The activity as it is now.' }),
              ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND'),
            },
          },
        },
        async (request) => ({ activity: await view(await catalog.updateActivity(request.params.id, { waitingRoom: { paused } })) }),
      );
    }

    // Refunds owed: payments that succeeded after their order was cancelled (too late to sell the
    // unit twice). The operator pays the money back outside this system, then marks it here.
    app.get(
      '/api/v1/admin/refunds',
      {
        schema: {
          ...doc,
          operationId: 'listRefunds',
          summary: 'List the payments owed a refund (or refunded)',
          description:
            'Payments that succeeded after their order was cancelled, oldest first. `count` and `totalCents` cover every payment with the status, not just this page; page on with `after` = the last paymentId.',
          querystring: RefundsQuery,
          response: {
            200: Type.Object(
              { refunds: Type.Array(Refund), count: Type.Integer({ minimum: 0 }), totalCents: Type.Integer({ minimum: 0 }) },
              { description: 'One page of refunds, oldest first, and the count and total of all with the status.' },
            ),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED'),
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
        config: { audit: 'refund.mark' },
        schema: {
          ...doc,
          operationId: 'markRefunded',
          summary: 'Record that a refund was paid back',
          description:
            'Records that the money was given back: REFUND_REQUIRED → REFUNDED. Idempotent; 409 NOT_REFUNDABLE if the payment is not owed a refund.',
          params: Type.Object({ paymentId: DecimalId }),
          response: {
            200: Type.Object({ refund: Refund }, { description: 'The refund, REFUNDED.' }),
            ...errors('INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'NOT_REFUNDABLE'),
          },
        },
      },
      async (request) => ({ refund: await payments.markRefunded(request.params.paymentId) }),
    );

    app.get(
      '/api/v1/admin/audit',
      {
        schema: {
          ...doc,
          operationId: 'listAuditEntries',
          summary: 'Read the audit log of admin actions',
          description:
            'Admin actions, newest first: who (the X-Seckill-Actor header the console sends, or "admin", with a fingerprint of the token), what, on what, when, and the status it was answered with. Page on with `before` = the last id.',
          querystring: AuditQuery,
          response: { 200: Type.Object({ entries: Type.Array(AuditEntry) }, { description: 'Audit entries, newest first.' }), ...errors('INVALID_REQUEST', 'UNAUTHORIZED') },
        },
      },
      async (request) => {
        const { limit, before } = request.query;
        const entries = await audit.list({ limit: Number(limit), before });
        return { entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })) };
      },
    );
  };
}
