/**
 * The web pages (issue #7), served by the API process itself: the product page
 * `/activities/{id}`, the operator dashboard `/admin`, their bundles under `/assets/`, and the
 * dashboard's live feed `GET /api/v1/admin/activities/{id}/live` (Server-Sent Events, admin token).
 *
 * The bundles are built by `npm ci` (the `prepare` script); when web/dist is missing or older than
 * its sources the plugin builds it before the server listens, so `npm start` and the tests work
 * from a fresh clone either way.
 */
import { mkdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { buildWeb, DIST, needsBuild } from '../../../web/build.ts';
import type { Infra } from '../../infra.ts';
import type { Services } from '../../services/container.ts';
import { errorBody } from '../errors.ts';
import { IdParams } from '../schemas.ts';

const LIVE_INTERVAL_MS = 1000;

// One build per process, however many apps a test run starts.
let building: Promise<void> | undefined;

async function ensureBuilt(log: Infra['log']): Promise<string | undefined> {
  building ??= (async () => {
    if (!(await needsBuild())) return;
    const started = Date.now();
    await buildWeb();
    log.info({ ms: Date.now() - started }, 'web: built the pages (web/dist was missing or stale)');
  })();
  try {
    await building;
    return undefined;
  } catch (error) {
    building = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    log.error({ reason }, 'web: could not build the pages; /activities/{id} and /admin answer 503');
    return reason;
  }
}

/** Keeps only our own series: the dashboard needs them, not the process metrics. */
function seckillSeries(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.startsWith('seckill_') || line.startsWith('# TYPE seckill_'))
    .join('\n');
}

export function webRoutes(infra: Infra, services: Services): FastifyPluginAsyncTypebox {
  const { catalog, inventory, adminAuth } = services;
  return async (app) => {
    const buildError = await ensureBuilt(infra.log);
    await mkdir(DIST, { recursive: true });
    await app.register(fastifyStatic, { root: DIST, prefix: '/assets/', decorateReply: true, maxAge: 0, cacheControl: true });

    const page = (file: string) => async (_request: unknown, reply: FastifyReply) => {
      if (buildError !== undefined) {
        return reply.status(503).send(errorBody('NOT_READY', `the web pages could not be built: ${buildError}`));
      }
      reply.header('Cache-Control', 'no-cache');
      return reply.sendFile(file);
    };
    app.get('/activities/:id', { schema: { params: IdParams } }, page('product.html'));
    app.get('/admin', page('admin.html'));

    // Live feed for the dashboard: stats (MySQL + Redis) and this instance's seckill_* metrics,
    // once a second. The browser reads it with fetch() so the admin token stays in a header.
    const streams = new Map<ServerResponse, NodeJS.Timeout>();
    app.get(
      '/api/v1/admin/activities/:id/live',
      { onRequest: async (request) => adminAuth(request), schema: { params: IdParams } },
      async (request, reply) => {
        const activity = await catalog.require(request.params.id);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          'x-accel-buffering': 'no',
        });
        let busy = false;
        const send = async () => {
          if (busy) return; // a slow database must not pile up queries
          busy = true;
          try {
            const [stats, metrics] = await Promise.all([inventory.stats(activity), infra.metrics.registry.metrics()]);
            const data = JSON.stringify({ at: Date.now(), stats, metrics: seckillSeries(metrics) });
            if (!res.writableEnded) res.write(`event: tick\ndata: ${data}\n\n`);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            if (!res.writableEnded) res.write(`event: problem\ndata: ${JSON.stringify({ message })}\n\n`);
          } finally {
            busy = false;
          }
        };
        streams.set(res, setInterval(send, LIVE_INTERVAL_MS));
        res.on('close', () => {
          clearInterval(streams.get(res));
          streams.delete(res);
        });
        void send();
      },
    );

    // Open streams would otherwise hold server.close() until the browsers go away.
    app.addHook('preClose', async () => {
      for (const [res, timer] of streams) {
        clearInterval(timer);
        res.end();
      }
      streams.clear();
    });
  };
}
