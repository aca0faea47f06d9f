/** The HTTP API's errors: one JSON body shape, with a code naming the problem. */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { UserError } from '../../infra/user-error';
import { errorBody } from './schemas';

/** A failure the API answers with a status and the `{ error, message, issues? }` body. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: string[],
    /** Fields the body carries besides the error (e.g. the `runId` of a run recorded REJECTED). */
    readonly extra?: { runId?: string },
  ) {
    super(message);
  }
}

const USER_ERROR_STATUS: Record<UserError['code'], number> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
};

/** The errors every /v1 route may answer, documented on each (413 only where there is a body). */
export const commonErrors = { 400: errorBody, 401: errorBody, 404: errorBody, 429: errorBody, 503: errorBody };
export const adminErrors = { ...commonErrors, 403: errorBody };

/** gRPC's UNAVAILABLE and DEADLINE_EXCEEDED, and the SDK's connection errors: Temporal cannot be reached. */
function temporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (
      code === 14 ||
      code === 4 ||
      (/ServiceError|ConnectionError/.test(e.name) && /UNAVAILABLE|connect/i.test(e.message))
    )
      return true;
  }
  return false;
}

/**
 * One error shape for every failure: validation problems (400 with each issue), ADOS's own errors
 * (UserError, ApiError), Fastify's 4xx (bad JSON, body too large, rate limit), Temporal unreachable
 * (503), and anything else as a 500 whose details stay in the log. Unknown paths answer 404, known
 * paths with a method they do not serve 405 with `Allow`.
 */
export const errorsPlugin = fp(async function errors(app: FastifyInstance) {
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) return;
    const pattern = new RegExp(`^${route.url.replace(/:[A-Za-z]+/g, '[^/]+')}/?$`);
    const methods = [route.method].flat();
    const entry = routes.find((r) => r.pattern.source === pattern.source);
    if (entry) for (const m of methods) entry.methods.add(m);
    else routes.push({ pattern, methods: new Set(methods) });
  });

  // A POST that needs no body may come with `content-type: application/json` and nothing in it.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body === '' ? done(null, undefined) : json(request, body as string, done),
  );

  app.setErrorHandler((err: unknown, request, reply) => {
    // A method no route serves (e.g. QUERY) fails in body parsing before the not-found handler runs.
    if (request.is404) return unrouted(request, reply);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map(
        (v) => `${v.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'input'}: ${v.message}`,
      );
      return reply.code(400).send({
        error: 'INVALID_INPUT',
        message: `invalid ${err.validationContext ?? 'input'}: ${issues.join('; ')}`,
        issues,
      });
    }
    if (err instanceof ApiError)
      return reply.code(err.statusCode).send({
        error: err.code,
        message: err.message,
        ...(err.issues?.length ? { issues: err.issues } : {}),
        ...err.extra,
      });
    if (err instanceof UserError)
      return reply
        .code(USER_ERROR_STATUS[err.code])
        .send({ error: err.code, message: err.message, ...(err.issues.length ? { issues: err.issues } : {}) });
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 429) return reply.code(429).send({ error: 'RATE_LIMITED', message: (err as Error).message });
    if (status && status >= 400 && status < 500 && !isResponseSerializationError(err))
      return reply
        .code(status)
        .send({ error: (err as { code?: string }).code ?? 'BAD_REQUEST', message: (err as Error).message });
    if (temporalUnavailable(err)) {
      request.log.warn({ err }, 'Temporal unavailable');
      return reply.code(503).send({ error: 'UNAVAILABLE', message: 'Temporal is unavailable; try again shortly' });
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error; the API log has the details' });
  });

  /** 405 with `Allow` for a path served with other methods, else 404. */
  const unrouted = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const served = routes.find((r) => r.pattern.test(path));
    if (served && !served.methods.has(request.method)) {
      const allow = [...served.methods].filter((m) => m !== 'HEAD').join(', ');
      return reply
        .code(405)
        .header('allow', allow)
        .send({ error: 'METHOD_NOT_ALLOWED', message: `${request.method} is not served on ${path}; use ${allow}` });
    }
    return reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${path}` });
  };
  app.setNotFoundHandler(unrouted);
});
