/**
 * The one place errors become HTTP: domain errors keep their code and status, validation and
 * parsing errors become 400 INVALID_REQUEST, anything else a 500 that leaks no stack or SQL.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { isDependencyOutage } from '../dependency-errors.ts';
import { AppError, type ErrorCode } from '../domain/errors.ts';

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.retryAfter !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(error.retryAfter))));
      // A shed request (BUSY) is the system working as designed: one warn line per refusal would
      // cost more than the refusal itself under a 10x crowd. Metrics count them; causes go to debug.
      if (error.code === 'BUSY') request.log.debug({ cause: error.cause }, error.message);
      else if (error.status >= 500) request.log.warn({ code: error.code, cause: error.cause }, error.message);
      return reply.status(error.status).send(errorBody(error.code, error.message));
    }
    if (error.validation) {
      return reply.status(400).send(errorBody('INVALID_REQUEST', error.message));
    }
    if (isDependencyOutage(error)) {
      // MySQL, Redis or Kafka is away: the client's retry will work once it is back (fault 5).
      request.log.warn({ err: error }, 'dependency unavailable');
      reply.header('Retry-After', '1');
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
    reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
