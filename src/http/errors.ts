/**
 * The one place errors become HTTP: domain errors keep their code and status, validation and
 * parsing errors become 400 INVALID_REQUEST, anything else a 500 that leaks no stack or SQL.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDependencyOutage } from '../platform/dependency-errors.ts';
import { AppError, type ErrorCode } from '../domain/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code this request was answered with ('' while none): the refusals counter's label. */
    errorCode: string;
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/** The answer for a route that does not exist (or is not served on the address it was asked on). */
export function noRoute(request: FastifyRequest) {
  return errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
}

/**
 * The answer for a domain error: its status, code and message, Retry-After when it has one. The
 * error handler below uses it, and so does a hot route that answers its refusals itself (the
 * purchase route: Fastify's error path costs a refusal measurably more than a reply).
 */
export function sendAppError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  request.errorCode = error.code;
  if (error.retryAfter !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(error.retryAfter))));
  // A shed request (BUSY) is the system working as designed: one warn line per refusal would
  // cost more than the refusal itself under a 10x crowd. Metrics count them; causes go to debug.
  if (error.code === 'BUSY') request.log.debug({ cause: error.cause }, error.message);
  else if (error.status >= 500) request.log.warn({ code: error.code, cause: error.cause }, error.message);
  return reply.status(error.status).send(errorBody(error.code, error.message));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.decorateRequest('errorCode', '');
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) return sendAppError(request, reply, error);
    if (error.validation) {
      return reply.status(400).send(errorBody('INVALID_REQUEST', error.message));
    }
    if (isDependencyOutage(error)) {
      // MySQL, Redis or Kafka is away: the client's retry will work once it is back (README, "Faults").
      request.log.warn({ err: error }, 'dependency unavailable');
      reply.header('Retry-After', '1');
      request.errorCode = 'BUSY';
      return reply.status(503).send(errorBody('BUSY', 'a dependency is unavailable, retry shortly'));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Malformed JSON, wrong content type, body too large, ...: the client's mistake, said plainly.
      return reply.status(status === 413 || status === 415 ? status : 400).send(errorBody('INVALID_REQUEST', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(noRoute(request));
  });
}
