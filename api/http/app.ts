import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import type { Logger } from 'pino';
import { runArtifactsDir } from '../../activities/export/atomic';
import { deliveryRunInputSchema } from '../../workflows/policy/dag';
import { idSchema } from '../../workflows/policy/ids';
import { FINAL_RUN_STATUSES, type RunStatus } from '../../workflows/policy/run-state';
import { tenantConfigPatchSchema } from '../../workflows/policy/tenant';
import { DeliveryCostUsdKey, DeliveryPriorityKey, DeliveryStatusKey } from '../../workflows/search-attributes';
import { UserError, configureTenant, runHandle, runProgress, startRun, tenantStatus } from '../client';
import type { AdosConfig } from '../../infra/config';
import { metricsText, type AdosMetrics } from '../../infra/metrics';
import { TokenVerifier, hashToken, issueTenantToken, revokeTenantToken } from './tokens';

export interface ApiOptions {
  client: Client;
  config: Pick<
    AdosConfig,
    | 'ADOS_ADMIN_TOKEN'
    | 'ADOS_API_RATE_LIMIT'
    | 'ADOS_API_BODY_LIMIT'
    | 'ADOS_API_TOKEN_CACHE_SECONDS'
    | 'ADOS_ARTIFACTS_DIR'
  >;
  logger: Logger;
  metrics: AdosMetrics;
}

/** Who is calling: the admin, or one tenant. */
type Caller = { role: 'admin' } | { role: 'tenant'; tenantId: string };

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    /** A PUT tenant body as sent, before zod filled in defaults. */
    rawPatch?: unknown;
  }
}

const ALL_RUN_STATUSES = ['ADMITTING', 'WAITING', 'RUNNING', ...FINAL_RUN_STATUSES] as [RunStatus, ...RunStatus[]];
const ARTIFACT_NAME =
  /^(history\.json|summary\.json|cost_decision\.json|concurrency_report\.json|trace\.jsonl|task_result_[a-z0-9][a-z0-9_-]{0,62}\.json)$/;

const errorBody = z
  .object({ error: z.string(), message: z.string(), issues: z.array(z.string()).optional() })
  .describe('An error: a code, one line saying what is wrong, and field-level issues for invalid input');
const tenantParams = z.object({ tenantId: idSchema });
const runParams = tenantParams.extend({ runId: idSchema });
const runBody = deliveryRunInputSchema.omit({ tenantId: true });
const errors = { 400: errorBody, 401: errorBody, 404: errorBody };
/** A success body documented by its description (the full shapes are the TypeScript types in workflows/policy). */
const ok = (description: string) => ({ 200: z.any().describe(description), ...errors });

/** A failure the API answers with a status and the `{ error, message, issues? }` body. */
class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: string[],
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

/**
 * The tenant-facing HTTP API (routes and errors in the README): each route's zod schema validates the request, types the
 * handler and documents the route in the OpenAPI document at /docs.
 */
export async function buildApi({ client, config, logger, metrics }: ApiOptions) {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.ADOS_API_BODY_LIMIT,
    disableRequestLogging: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const tokens = new TokenVerifier(client, config.ADOS_API_TOKEN_CACHE_SECONDS * 1000);
  const admin = config.ADOS_ADMIN_TOKEN ? Buffer.from(hashToken(config.ADOS_ADMIN_TOKEN), 'hex') : undefined;

  app.setErrorHandler((err: unknown, request, reply) => {
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
      return reply
        .code(err.statusCode)
        .send({ error: err.code, message: err.message, ...(err.issues?.length ? { issues: err.issues } : {}) });
    if (err instanceof UserError)
      return reply
        .code(USER_ERROR_STATUS[err.code])
        .send({ error: err.code, message: err.message, ...(err.issues.length ? { issues: err.issues } : {}) });
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 429) return reply.code(429).send({ error: 'RATE_LIMITED', message: (err as Error).message });
    if (status && status >= 400 && status < 500)
      return reply
        .code(status)
        .send({ error: (err as { code?: string }).code ?? 'BAD_REQUEST', message: (err as Error).message });
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error; the API log has the details' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'ADOS API',
        version: '1',
        description:
          'Delivery runs, tenants and budgets on Temporal. Every /v1 route needs `Authorization: Bearer <token>`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(await metricsText(metrics)),
  );

  await app.register(
    async (v1) => {
      // Per token (per address without one), so one noisy client cannot starve the others.
      await v1.register(rateLimit, {
        max: config.ADOS_API_RATE_LIMIT,
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
      v1.addHook('onRequest', async (request) => {
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
      // After validation, so ids are known to be ids: another tenant's things do not exist for a tenant token.
      v1.addHook('preHandler', async (request) => {
        const params = request.params as { tenantId?: string; runId?: string };
        if (params.tenantId !== undefined)
          request.log = request.log.child({
            tenantId: params.tenantId,
            ...(params.runId ? { runId: params.runId } : {}),
          });
        if (
          params.tenantId !== undefined &&
          request.caller?.role === 'tenant' &&
          request.caller.tenantId !== params.tenantId
        ) {
          throw new ApiError(404, 'NOT_FOUND', `unknown tenant ${params.tenantId}`);
        }
      });
      const adminOnly = async (request: FastifyRequest) => {
        if (request.caller?.role !== 'admin') throw new ApiError(403, 'FORBIDDEN', 'this needs the admin token');
      };
      const api = v1.withTypeProvider<ZodTypeProvider>();

      api.put(
        '/tenants/:tenantId',
        {
          schema: {
            summary: 'Create a tenant, or change the fields given (admin)',
            params: tenantParams,
            body: tenantConfigPatchSchema,
            response: ok('the tenant status after the change'),
          },
          preHandler: adminOnly,
          // The patch as sent: the parsed body has defaults filled in, which would overwrite settings the caller kept.
          preValidation: async (request) => {
            request.rawPatch = request.body;
          },
        },
        async (request) =>
          configureTenant(client, request.params.tenantId, {
            ...(request.rawPatch as object),
            tenantId: request.params.tenantId,
          }),
      );

      api.post(
        '/tenants/:tenantId/tokens',
        {
          schema: {
            summary: 'Issue a tenant token; shown once, stored only as its hash (admin)',
            params: tenantParams,
            response: { 201: z.object({ token: z.string(), tokenId: z.string(), createdAt: z.string() }), ...errors },
          },
          preHandler: adminOnly,
        },
        async (request, reply) => reply.code(201).send(await issueTenantToken(client, request.params.tenantId)),
      );

      api.delete(
        '/tenants/:tenantId/tokens/:tokenId',
        {
          schema: {
            summary: 'Revoke a tenant token (admin)',
            params: tenantParams.extend({ tokenId: z.string().regex(/^[a-z0-9]{1,32}$/) }),
            response: { 200: z.object({ revoked: z.boolean() }), ...errors },
          },
          preHandler: adminOnly,
        },
        async (request) => {
          const revoked = await revokeTenantToken(client, request.params.tenantId, request.params.tokenId);
          if (!revoked) throw new ApiError(404, 'NOT_FOUND', `no active token ${request.params.tokenId}`);
          return { revoked };
        },
      );

      api.get(
        '/tenants/:tenantId',
        {
          schema: {
            summary: 'Budget status, utilization, spend by category, runs in flight and waiting, learning profile',
            params: tenantParams,
            response: ok('the tenant status (TenantStatus)'),
          },
        },
        async (request) => tenantStatus(client, request.params.tenantId),
      );

      api.post(
        '/tenants/:tenantId/runs',
        {
          schema: {
            summary: 'Start a delivery run (the deliveryRun input without tenantId)',
            params: tenantParams,
            body: runBody,
            response: {
              202: z.object({ runId: z.string(), workflowId: z.string(), status: z.literal('ADMITTING') }),
              409: errorBody,
              429: errorBody,
              ...errors,
            },
          },
        },
        async (request, reply) => {
          const { tenantId } = request.params;
          const status = await tenantStatus(client, tenantId);
          if (status.budgetStatus === 'EXCEEDED')
            throw new ApiError(
              429,
              'BUDGET_EXCEEDED',
              `tenant ${tenantId} has spent $${status.spentUsd} of $${status.budgetUsd} this period; runs are rejected until the next period or a larger budget`,
            );
          const handle = await startRun(client, { ...request.body, tenantId });
          const runId = handle.workflowId.split(':')[2]!;
          request.log.info({ runId }, 'run started');
          return reply.code(202).send({ runId, workflowId: handle.workflowId, status: 'ADMITTING' as const });
        },
      );

      api.get(
        '/tenants/:tenantId/runs',
        {
          schema: {
            summary: "List a tenant's runs from Temporal visibility, newest first",
            params: tenantParams,
            querystring: z.object({
              status: z.enum(ALL_RUN_STATUSES).optional(),
              pageSize: z.coerce.number().int().min(1).max(100).default(20),
              pageToken: z.string().max(4096).optional(),
            }),
            response: ok(
              '{ runs: [{ runId, workflowId, status, priority, costUsd, temporalStatus, startedAt, closedAt }], nextPageToken? }',
            ),
          },
        },
        async (request) => {
          const { tenantId } = request.params;
          await tenantStatus(client, tenantId);
          const query = [
            `WorkflowType = 'deliveryRun'`,
            `TenantId = '${tenantId}'`,
            ...(request.query.status ? [`DeliveryStatus = '${request.query.status}'`] : []),
          ].join(' AND ');
          const page = await client.workflowService.listWorkflowExecutions({
            namespace: client.options.namespace,
            query,
            pageSize: request.query.pageSize,
            ...(request.query.pageToken ? { nextPageToken: Buffer.from(request.query.pageToken, 'base64url') } : {}),
          });
          const runs = await Promise.all(
            (page.executions ?? []).map(async (raw) => {
              const info = await executionInfoFromRaw(
                raw,
                client.options.loadedDataConverter,
                undefined,
                client.options.namespace,
              );
              const attrs = info.typedSearchAttributes;
              return {
                runId: info.workflowId.split(':')[2] ?? info.workflowId,
                workflowId: info.workflowId,
                status: attrs.get(DeliveryStatusKey) ?? null,
                priority: attrs.get(DeliveryPriorityKey) ?? null,
                costUsd: attrs.get(DeliveryCostUsdKey) ?? null,
                temporalStatus: info.status.name,
                startedAt: info.startTime.toISOString(),
                closedAt: info.closeTime?.toISOString() ?? null,
              };
            }),
          );
          const next = page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined;
          return { runs, ...(next ? { nextPageToken: next } : {}) };
        },
      );

      api.get(
        '/tenants/:tenantId/runs/:runId',
        {
          schema: {
            summary: "A run's progress, or its result once it ended",
            params: runParams,
            response: ok('the run result (DeliveryRunResult), the same shape while it runs'),
          },
        },
        async (request) => runProgress(client, request.params.tenantId, request.params.runId),
      );

      api.post(
        '/tenants/:tenantId/runs/:runId/cancel',
        {
          schema: {
            summary: 'Cancel a run (nodes in flight are cancelled, its slot released)',
            params: runParams,
            response: { 202: z.object({ runId: z.string(), cancelRequested: z.literal(true) }), ...errors },
          },
        },
        async (request, reply) => {
          const { tenantId, runId } = request.params;
          const description = await runHandle(client, tenantId, runId)
            .describe()
            .catch(() => {
              throw new ApiError(404, 'NOT_FOUND', `unknown run ${runId} of tenant ${tenantId}`);
            });
          if (description.status.name !== 'RUNNING')
            throw new ApiError(409, 'CONFLICT', `run ${runId} has already ended (${description.status.name})`);
          await runHandle(client, tenantId, runId).cancel();
          return reply.code(202).send({ runId, cancelRequested: true as const });
        },
      );

      api.get(
        '/tenants/:tenantId/runs/:runId/artifacts/:name',
        {
          schema: {
            summary:
              "One of a finished run's exported artifacts (history.json, summary.json, cost_decision.json, concurrency_report.json, trace.jsonl, task_result_{nodeId}.json)",
            params: runParams.extend({ name: z.string().regex(ARTIFACT_NAME, 'must be an artifact file name') }),
            response: ok('the file'),
          },
        },
        async (request, reply) => {
          const { tenantId, runId, name } = request.params;
          const path = join(runArtifactsDir(tenantId, runId, config.ADOS_ARTIFACTS_DIR), name);
          if (!existsSync(path))
            throw new ApiError(
              404,
              'NOT_FOUND',
              `no artifact ${name} for run ${runId} (runs are exported as they close)`,
            );
          return reply
            .type(name.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/json')
            .send(readFileSync(path, 'utf8'));
        },
      );
    },
    { prefix: '/v1' },
  );

  return app;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}
