/** HTTP authentication: the admin token and tenant tokens, and who may call what. */
import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Client } from '@temporalio/client';
import { ApiError } from './errors';
import { TokenVerifier, hashToken } from './tokens';

/** Who is calling: the admin, or one tenant. */
export type Caller = { role: 'admin' } | { role: 'tenant'; tenantId: string };

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface AuthOptions {
  client: Client;
  adminToken: string | undefined;
  rateLimitPerMinute: number;
  tokenCacheMs: number;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

/**
 * Every request in its scope needs `Authorization: Bearer <token>`: the admin token, or a tenant
 * token (checked against the tenant's entity, cached briefly). Rate-limited per token (per address
 * without one). A tenant token sees only its own tenant: another's things answer 404 as if absent.
 */
export const authPlugin = fp(async function auth(app: FastifyInstance, options: AuthOptions) {
  const tokens = TokenVerifier.forClient(options.client, options.tokenCacheMs);
  const admin = options.adminToken ? Buffer.from(hashToken(options.adminToken), 'hex') : undefined;
  app.decorateRequest('caller', null);
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (request) => {
      const token = bearer(request);
      return token ? `token:${hashToken(token)}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'RATE_LIMITED',
      message: `rate limit of ${context.max} requests per ${context.after} exceeded`,
    }),
  });
  app.addHook('onRequest', async (request) => {
    const token = bearer(request);
    if (!token) throw new ApiError(401, 'UNAUTHORIZED', 'missing Authorization: Bearer <token>');
    if (admin && timingSafeEqual(Buffer.from(hashToken(token), 'hex'), admin)) {
      request.caller = { role: 'admin' };
      return;
    }
    const tenantId = await tokens.verify(token);
    if (!tenantId) throw new ApiError(401, 'UNAUTHORIZED', 'invalid or revoked token');
    request.caller = { role: 'tenant', tenantId };
  });
  // After validation, so ids are known to be ids.
  app.addHook('preHandler', async (request) => {
    const params = request.params as { tenantId?: string; runId?: string } | undefined;
    if (params?.tenantId === undefined) return;
    request.log = request.log.child({ tenantId: params.tenantId, ...(params.runId ? { runId: params.runId } : {}) });
    if (request.caller?.role === 'tenant' && request.caller.tenantId !== params.tenantId)
      throw new ApiError(404, 'NOT_FOUND', `unknown tenant ${params.tenantId}`);
  });
});

/** A route's preHandler for admin-only routes. */
export async function adminOnly(request: FastifyRequest): Promise<void> {
  if (request.caller?.role !== 'admin') throw new ApiError(403, 'FORBIDDEN', 'this needs the admin token');
}
