/**
 * The OpenAPI 3.1 document, generated from the route schemas (the same ones that validate and
 * serialise), so it cannot drift from what the server does: JSON at GET /docs/json, a browsable
 * UI at GET /docs. Register before the routes: @fastify/swagger collects them as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { COMPONENT_SCHEMAS } from './response-schemas.ts';

export const DOCS_PREFIX = '/docs';

/** The API, the operations endpoints; not the web pages and their assets (they are HTML). */
const isDocumented = (url: string) => url.startsWith('/api/') || url === '/healthz' || url === '/readyz' || url === '/metrics';

type Json = Record<string, unknown>;

/**
 * Every route declares its error answers inline (so the serialiser and the handler types see
 * them); in the document they become one `#/components/schemas/Error`, which is what a client
 * generator should turn into one type.
 */
function shareErrorSchema(document: Json): Json {
  const components = document.components as { schemas?: Json } | undefined;
  const shared = components?.schemas?.Error;
  if (!shared) return document;
  const text = JSON.stringify(shared);
  for (const item of Object.values((document.paths ?? {}) as Record<string, Record<string, { responses?: Record<string, Json> }>>)) {
    for (const operation of Object.values(item)) {
      for (const response of Object.values(operation.responses ?? {})) {
        const json = (response.content as Record<string, { schema?: unknown }> | undefined)?.['application/json'];
        if (json && JSON.stringify(json.schema) === text) json.schema = { $ref: '#/components/schemas/Error' };
      }
    }
  }
  return document;
}

const DESCRIPTION = [
  'The flash-sale service: reserve in Redis, buffer in Kafka, persist in MySQL. The written contract is API.md; this document is generated from the route schemas.',
  '',
  'Every id is a string. Money is integer cents; times are ISO-8601 UTC. Errors are `{"error": {"code", "message"}}`: the code is the contract.',
  'Every response carries `X-Request-Id` (yours, if you sent a valid one: 1–128 characters of `A-Za-z0-9._:-`; otherwise a new one): quote it when reporting a problem.',
  'The WebSocket `GET /api/v1/ws` pushes the messages in `#/components/schemas/WsMessage`.',
].join('\n');

export function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'seckill flash-sale API', version: '1', description: DESCRIPTION },
      tags: [
        { name: 'public', description: 'Anonymous reads' },
        { name: 'buyer', description: 'A user with a JWT: purchase, orders, payment, live status' },
        { name: 'waitlist', description: 'Waiting for returned units (候补)' },
        { name: 'admin', description: 'Setting up sales, looking after stock and refunds (admin token)' },
        { name: 'payment provider', description: 'Signed callbacks' },
        { name: 'operations', description: 'Health, readiness, metrics' },
        { name: 'dev', description: 'Only when SECKILL_DEV_TOKENS=1' },
      ],
      components: {
        securitySchemes: {
          userBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 JWT signed with SECKILL_JWT_SECRET; `sub` is the user id' },
          userTokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The user JWT in the query: GET /api/v1/ws only (browsers cannot set WebSocket headers)' },
          adminBearer: { type: 'http', scheme: 'bearer', description: 'SECKILL_ADMIN_TOKEN' },
          paymentSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Seckill-Signature',
            description: 'sha256=<hex HMAC-SHA256(SECKILL_PAYMENT_SECRET, raw request body)>',
          },
        },
        schemas: COMPONENT_SCHEMAS as Record<string, object>,
      },
    },
    // `hide` decided here for every route: @fastify/websocket hides its routes, but ours is API.
    transform: ({ schema, url }) => ({ schema: { ...schema, hide: !isDocumented(url) }, url }),
    transformObject: (documents) => shareErrorSchema(('openapiObject' in documents ? documents.openapiObject : documents.swaggerObject) as Json),
  });
  app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
