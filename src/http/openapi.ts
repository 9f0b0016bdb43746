/**
 * The OpenAPI 3.1 document, generated from the route schemas (the same ones that validate and
 * serialise), so it cannot drift from what the server does: JSON at GET /docs/json, a browsable
 * UI at GET /docs. Register before the routes: @fastify/swagger collects them as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { SAFE_REQUEST_ID } from './access-log.ts';
import { COMPONENT_SCHEMAS } from './response-schemas.ts';

export const DOCS_PREFIX = '/docs';

/** The largest request body the server reads; a larger one is answered 413 before any route runs. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** The API, the operations endpoints; not the web pages and their assets (they are HTML). */
const isDocumented = (url: string) => url.startsWith('/api/') || url === '/healthz' || url === '/readyz' || url === '/metrics';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const ref = (kind: 'schemas' | 'headers' | 'parameters', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** Response headers every client may read; the request header it may send. */
const HEADERS = {
  XRequestId: {
    required: true,
    description: "This request's id: the caller's X-Request-Id if it was valid, otherwise a new one. Quote it when reporting a problem.",
    schema: { type: 'string', pattern: SAFE_REQUEST_ID.source },
  },
  RetryAfter: {
    required: true,
    description: 'Seconds to wait before retrying (an integer, at least 1).',
    schema: { type: 'integer', minimum: 1 },
  },
};
const PARAMETERS = {
  XRequestId: {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description: `Your id for this request, echoed in the response and logged. One that does not match \`${SAFE_REQUEST_ID.source}\` is replaced by a new id, never refused.`,
    schema: { type: 'string' },
  },
};

/** A schema's identity for sharing: its content, whatever it says about itself where it is used. */
function fingerprint(schema: Json): string {
  const { description: _description, ...content } = schema;
  return JSON.stringify(content);
}

/**
 * Replaces every inlined copy of a component schema under `node` with a `$ref` to it, outermost
 * first (the copies are whole TypeBox objects, so an Order inside a WsOrderMessage is found too).
 */
function shareComponents(node: unknown, components: Map<string, string>, self?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => shareComponents(item, components));
  if (!isObject(node)) return node;
  const name = components.get(fingerprint(node));
  if (name !== undefined && name !== self) return ref('schemas', name);
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, shareComponents(value, components)]));
}

/** The codes of an error response's body (errorBodyOf), or undefined if it is not one. */
function errorCodes(schema: Json): string[] | undefined {
  const properties = asObject(schema.properties);
  const code = asObject(asObject(asObject(properties.error).properties).code);
  return Object.keys(properties).length === 1 && Array.isArray(code.enum) ? (code.enum as string[]) : undefined;
}

/** An error response's schema: `#/components/schemas/Error` with `code` narrowed to `codes`. */
const narrowedError = (codes: string[]) => ({
  allOf: [ref('schemas', 'Error'), { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: codes } } } } }],
});

/** What the body parser answers for any operation with a body, before its route runs. */
const BODY_REFUSALS: Record<string, string> = {
  '413': `INVALID_REQUEST: the body is larger than ${BODY_LIMIT_BYTES / 1024} KiB.`,
  '415': 'INVALID_REQUEST: the body has a Content-Type the server does not read (send application/json).',
};

/**
 * What a client generator needs beyond what Fastify's route schemas say, applied to the generated
 * document (the schemas that validate and serialise stay as they are, so nothing changes on the wire):
 * - each error response is `#/components/schemas/Error` with `code` narrowed to that status's codes;
 * - an operation with a body also answers 413 and 415 (the body parser's refusals, before the route);
 * - X-Request-Id is a request header of every operation and a response header of every answer,
 *   Retry-After a response header wherever RATE_LIMITED or BUSY is answered;
 * - a request field with a default is not required of the client (the validator fills it in, so
 *   the route schemas keep it required and the handlers' types need no fallback);
 * - every inlined copy of a component schema becomes a `$ref` to it.
 */
function forClientGenerators(document: Json): Json {
  const components = asObject(document.components);
  const schemas = asObject(components.schemas);
  const allCodes = JSON.stringify(errorCodes(asObject(schemas.Error)));
  const shared = new Map(Object.entries(schemas).map(([name, schema]) => [fingerprint(asObject(schema)), name]));

  for (const item of Object.values(asObject(document.paths))) {
    for (const operation of Object.values(asObject(item)).filter(isObject)) {
      const parameters = Array.isArray(operation.parameters) ? (operation.parameters as Json[]) : [];
      for (const parameter of parameters) {
        if (parameter.in !== 'path' && asObject(parameter.schema).default !== undefined) parameter.required = false;
      }
      operation.parameters = [ref('parameters', 'XRequestId'), ...parameters];

      const body = asObject(asObject(asObject(asObject(operation.requestBody).content)['application/json']).schema);
      if (Array.isArray(body.required)) {
        const properties = asObject(body.properties);
        body.required = (body.required as string[]).filter((name) => asObject(properties[name]).default === undefined);
      }
      if (isObject(operation.requestBody)) {
        const responses = asObject(operation.responses);
        for (const [status, description] of Object.entries(BODY_REFUSALS)) {
          responses[status] ??= { description, content: { 'application/json': { schema: narrowedError(['INVALID_REQUEST']) } } };
        }
        operation.responses = responses;
      }

      for (const [status, response] of Object.entries(asObject(operation.responses)).filter(([, value]) => isObject(value)) as [string, Json][]) {
        const json = asObject(asObject(response.content)['application/json']);
        // The generator copies a response schema's description to the response: once is enough.
        if (isObject(json.schema) && json.schema.description === response.description) delete json.schema.description;
        const codes = errorCodes(asObject(json.schema));
        if (codes && JSON.stringify(codes) !== allCodes) json.schema = narrowedError(codes);
        // The 101 of the WebSocket is written by the upgrade, without our headers.
        if (status === '101') continue;
        const retry = codes?.includes('RATE_LIMITED') || codes?.includes('BUSY');
        response.headers = { 'X-Request-Id': ref('headers', 'XRequestId'), ...(retry ? { 'Retry-After': ref('headers', 'RetryAfter') } : {}) };
      }
    }
  }

  document.paths = shareComponents(document.paths, shared);
  components.schemas = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, shareComponents(schema, shared, name)]));
  components.headers = HEADERS;
  components.parameters = PARAMETERS;
  return document;
}

const DESCRIPTION = [
  'The flash-sale service: reserve in Redis, buffer in Kafka, persist in MySQL. The written contract is docs/api.md in the repository; this document is generated from the route schemas.',
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
        { name: 'waiting room', description: 'The line in front of a sale (排队): join, keep your place, buy with the pass' },
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
    transformObject: (documents) => forClientGenerators(('openapiObject' in documents ? documents.openapiObject : documents.swaggerObject) as Json),
  });
  app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
