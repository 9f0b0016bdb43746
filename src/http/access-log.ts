/**
 * Request ids and the access log: one structured line per request, written once the response is
 * sent, with nothing secret in it.
 *
 * Fastify's own request logging stays off (two lines per request, full request objects); this
 * writes one flat line instead, and builds it only when its level is enabled, because the
 * purchase path is hot and SECKILL_LOG_LEVEL=warn must make the log free.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../platform/log.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller may choose as its request id: short, and safe to put in logs and headers as is. */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's `genReqId`: the caller's X-Request-Id if it is safe (so one id follows a request
 * through a proxy and into our logs), otherwise a new one. A bad one is replaced, not refused:
 * an id is for tracing, not a reason to fail a purchase.
 */
export function requestId(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

const TOKEN_IN_QUERY = /([?&]token=)[^&#]*/gi;

/** The URL with any `token=` query value replaced: the WebSocket takes a JWT in its query. */
export function redactUrl(url: string): string {
  return url.includes('token=') ? url.replace(TOKEN_IN_QUERY, '$1[REDACTED]') : url;
}

/** Paths pino blanks in anything the HTTP logger writes (a header logged by mistake, say). */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-seckill-signature"]', 'headers.authorization', 'headers["x-seckill-signature"]'];

/** Fastify's request serializer, without the token a WebSocket URL may carry. */
export function requestSerializer(request: { method: string; url: string; id?: string }) {
  return { method: request.method, url: redactUrl(request.url), reqId: request.id };
}

/**
 * The answers a crowd gets by the thousand in a rush: 403 (NOT_STARTED, ENDED, PAUSED, a failed
 * challenge), 409 (SOLD_OUT, LIMIT_EXCEEDED, …), 429 RATE_LIMITED and 503 BUSY. They are the system
 * working as designed; at info, one line each would bury every other line and cost more than the
 * refusal. They are counted instead (seckill_http_refusals_total{route,code}) and logged at debug.
 */
export const isRefusal = (status: number): boolean => status === 403 || status === 409 || status === 429 || status === 503;

/** The client's address and browser: `request.ip` honours SECKILL_TRUST_PROXY (Fastify's trustProxy). */
const client = (request: FastifyRequest) => ({ ip: request.ip, ua: request.headers['user-agent'] });

/** The access line of one finished request (the request id comes from the request logger's bindings). */
export function logAccess(request: FastifyRequest, reply: FastifyReply, route: string): void {
  const level = isRefusal(reply.statusCode) ? 'debug' : 'info';
  // Fastify types its logger loosely; it is the pino child made in server.ts.
  const log = request.log as unknown as Logger;
  if (!log.isLevelEnabled(level)) return;
  log[level](
    {
      method: request.method,
      route,
      url: redactUrl(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      userId: request.userId || undefined,
      ...client(request),
    },
    'request',
  );
}

/**
 * The access line of a WebSocket upgrade (101): the socket outlives the request, so Fastify's
 * onResponse never sees it. Written when the socket opens; its URL is where `?token=` lives.
 */
export function logWebSocketOpen(request: FastifyRequest): void {
  const log = request.log as unknown as Logger;
  if (!log.isLevelEnabled('info')) return;
  log.info(
    { method: request.method, route: request.routeOptions.url, url: redactUrl(request.url), status: 101, userId: request.userId || undefined, ...client(request) },
    'request',
  );
}
