/**
 * The web pages, served by the API process itself: the product page
 * `/activities/{id}`, the operator dashboard `/admin`, their assets under `/assets/`, and the
 * dashboard's live feed `GET /api/v1/admin/activities/{id}/live` (Server-Sent Events, admin token).
 *
 * The pages are built by `npm ci` (the `prepare` script); when web/dist is missing or older than
 * its sources the plugin builds it before the server listens, so `npm start` and the tests work
 * from a fresh clone either way.
 *
 * Caching (100,000 buyers must not load the purchase instances with page traffic): the
 * assets have content-hashed names, so they are `immutable` for a year — a browser or CDN fetches
 * each once per deploy; the HTML pages are tiny shells a CDN may keep for a few seconds and a
 * browser revalidates by ETag (304, no body). Both come precompressed (brotli, else gzip) from the
 * build, never compressed per request.
 */
import { mkdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ASSETS_DIR, buildWeb, DIST, needsBuild } from '../../../web/build.ts';
import type { Catalog } from '../../inventory/catalog.ts';
import type { Inventory } from '../../inventory/inventory.ts';
import type { Logger } from '../../platform/log.ts';
import { REQUEST_ID_HEADER } from '../access-log.ts';
import type { AdminAuth } from '../auth.ts';
import { errorBody } from '../errors.ts';
import { liveStreamDoc } from '../response-schemas.ts';
import { IdParams } from '../schemas.ts';

const LIVE_INTERVAL_MS = 1000;
const ASSETS_ROOT = join(DIST, ASSETS_DIR);
/** Hashed names change with their content: cache forever, never revalidate. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * The HTML shells: browsers revalidate every time (ETag → 304), a shared cache may serve one for
 * 30 s (and a stale one while it refetches), so a CDN sends the origin about one request per page
 * per 30 s however many buyers arrive, and a deploy reaches everyone within a minute.
 */
const HTML_CACHE = 'public, max-age=0, s-maxage=30, stale-while-revalidate=30';
const ICON_CACHE = 'public, max-age=86400';
/** The canonical decimal id, as the API accepts it (schemas.ts DecimalId). */
const CANONICAL_ID = /^[1-9][0-9]{0,19}$/;

// One build per process, however many apps a test run starts.
let building: Promise<void> | undefined;

async function ensureBuilt(log: Logger): Promise<string | undefined> {
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

export interface WebRouteDeps {
  log: Logger;
  /** The console's seckill_* series summed over every process and instance (platform/console-metrics.ts). */
  liveSeries: () => Promise<{ text: string; processes: number }>;
  catalog: Pick<Catalog, 'require'>;
  inventory: Pick<Inventory, 'stats'>;
  adminAuth: AdminAuth;
}

export function webRoutes(deps: WebRouteDeps): FastifyPluginAsyncTypebox {
  const { log, liveSeries, catalog, inventory, adminAuth } = deps;
  return async (app) => {
    const buildError = await ensureBuilt(log);
    await mkdir(ASSETS_ROOT, { recursive: true });
    await app.register(fastifyStatic, {
      root: ASSETS_ROOT,
      prefix: `/${ASSETS_DIR}/`,
      decorateReply: true,
      preCompressed: true,
      cacheControl: false,
      // Set per file here (send's own header cannot tell an asset from a page).
      setHeaders: (res, path) => {
        res.setHeader('cache-control', path.startsWith(ASSETS_ROOT + sep) ? IMMUTABLE : /\.html(\.br|\.gz)?$/.test(path) ? HTML_CACHE : ICON_CACHE);
        // The body depends on Accept-Encoding: a shared cache must keep the variants apart.
        res.setHeader('vary', 'Accept-Encoding');
      },
    });

    const sendPage = (reply: FastifyReply, file: string, status = 200) => {
      if (buildError !== undefined) {
        return reply.status(503).send(errorBody('NOT_READY', `the web pages could not be built: ${buildError}`));
      }
      return reply.status(status).sendFile(file, DIST);
    };
    // No params schema: a malformed id gets the friendly HTML page, not the API's 400 JSON.
    app.get('/activities/:id', { schema: { hide: true } }, async (request: FastifyRequest<{ Params: { id: string } }>, reply) =>
      CANONICAL_ID.test(request.params.id) ? sendPage(reply, 'product.html') : sendPage(reply, 'not-found.html', 404),
    );
    app.get('/admin', { schema: { hide: true } }, async (_request, reply) => sendPage(reply, 'admin.html'));
    app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => {
      // The SVG, under the name browsers ask for unprompted (Content-Type image/svg+xml says what it is).
      return sendPage(reply, 'favicon.svg');
    });

    // Live feed for the dashboard: stats (MySQL + Redis) and the console's seckill_* series summed
    // over every process of every instance, once a second. The browser reads it with fetch() so the admin token stays in a header.
    const streams = new Map<ServerResponse, NodeJS.Timeout>();
    app.get(
      '/api/v1/admin/activities/:id/live',
      { onRequest: async (request) => adminAuth(request), schema: { ...liveStreamDoc, params: IdParams } },
      async (request, reply) => {
        const activity = await catalog.require(request.params.id);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          'x-accel-buffering': 'no',
          // A hijacked reply writes its own head: the headers set on the reply are not sent.
          [REQUEST_ID_HEADER]: request.id,
        });
        let busy = false;
        const send = async () => {
          if (busy) return; // a slow database must not pile up queries
          busy = true;
          try {
            const [stats, series] = await Promise.all([inventory.stats(activity), liveSeries()]);
            const data = JSON.stringify({ at: Date.now(), stats, metrics: series.text, processes: series.processes });
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
