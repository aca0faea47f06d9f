/** The HTTP API: a Fastify app with zod schemas and its OpenAPI document. */
import { admitFromBlocks, starterName } from '../client/admission';
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { DEFAULT_ADMISSION_BLOCK_SECONDS, type AdosConfig } from '../../infra/config';
import { metricsText, type AdosMetrics } from '../../infra/metrics/registry';
import { artifactRoutes } from './artifacts';
import { authPlugin } from './auth';
import { dashboardPage, dashboardRoutes } from './dashboard';
import { errorsPlugin } from './errors';
import { quoteRoutes } from './quotes';
import { reportRoutes } from './reports';
import { runRoutes } from './runs';
import { tenantRoutes } from './tenants';

export interface ApiOptions {
  client: Client;
  config: Pick<
    AdosConfig,
    | 'ADOS_ADMIN_TOKEN'
    | 'ADOS_API_RATE_LIMIT'
    | 'ADOS_API_BODY_LIMIT'
    | 'ADOS_API_TOKEN_CACHE_SECONDS'
    | 'ADOS_ARTIFACTS_DIR'
  > &
    Partial<Pick<AdosConfig, 'ADOS_ALERT_ALLOW_PRIVATE' | 'ADOS_WEB_UI_URL' | 'ADOS_ADMISSION_BLOCK_SECONDS'>>;
  logger: Logger;
  metrics: AdosMetrics;
}

/**
 * OpenAPI links: where an operation's answer leads (the run a start made, the token an issue made),
 * so that generated clients and stateful fuzzers can chain operations.
 */
const RUN = { tenantId: '$request.path.tenantId', runId: '$response.body#/runId' };
const LINKS: Record<
  string,
  {
    status: string;
    links: Record<string, { operationId: string; parameters: Record<string, string>; description: string }>;
  }
> = {
  startRun: {
    status: '202',
    links: {
      GetRun: { operationId: 'getRun', parameters: RUN, description: "the run's progress, then its result" },
      CancelRun: { operationId: 'cancelRun', parameters: RUN, description: 'cancel the run' },
      GetSummary: {
        operationId: 'getArtifact',
        parameters: { ...RUN, name: 'summary.json' },
        description: "the run's exported summary, once it ended",
      },
    },
  },
  configureTenant: {
    status: '200',
    links: {
      GetTenant: {
        operationId: 'getTenant',
        parameters: { tenantId: '$request.path.tenantId' },
        description: 'the tenant',
      },
      IssueToken: {
        operationId: 'issueToken',
        parameters: { tenantId: '$request.path.tenantId' },
        description: 'a token for the tenant',
      },
      StartRun: {
        operationId: 'startRun',
        parameters: { tenantId: '$request.path.tenantId' },
        description: 'a run of the tenant',
      },
    },
  },
  issueToken: {
    status: '201',
    links: {
      RevokeToken: {
        operationId: 'revokeToken',
        parameters: { tenantId: '$request.path.tenantId', tokenId: '$response.body#/tokenId' },
        description: 'revoke the token',
      },
    },
  },
};

/** Statuses Node's HTTP server answers before the API sees a request, on every route. */
const SERVER_STATUSES = { '431': { description: 'request headers too large (answered by the HTTP server, no body)' } };

/**
 * The HTTP API (routes and errors: docs/CONTRACT.md): plugins for errors and for auth, and one per
 * resource. Each route's zod schemas validate the request, type the handler, check the response,
 * and document both in the OpenAPI document at /docs (JSON at /docs/json).
 */
export async function buildApi({ client, config, logger, metrics }: ApiOptions) {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.ADOS_API_BODY_LIMIT,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(errorsPlugin);

  // Runs started here are admitted against blocks leased from their tenants; handed back on close.
  const blockSeconds = config.ADOS_ADMISSION_BLOCK_SECONDS ?? DEFAULT_ADMISSION_BLOCK_SECONDS;
  if (blockSeconds > 0) {
    const handBack = admitFromBlocks(client, {
      starter: starterName('api'),
      ttlSeconds: blockSeconds,
      onUnsupported: (reason) =>
        app.log.warn(`admission blocks off (${reason}): each run is admitted by its tenant's entity`),
    });
    app.addHook('onClose', handBack);
  }

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
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      for (const path of Object.values(document.paths ?? {}))
        for (const operation of Object.values(
          path as Record<string, { operationId?: string; responses?: Record<string, Record<string, unknown>> }>,
        ))
          if (operation && typeof operation === 'object' && operation.responses) {
            Object.assign(operation.responses, SERVER_STATUSES);
            const linked = operation.operationId ? LINKS[operation.operationId] : undefined;
            const response = linked && operation.responses[linked.status];
            if (linked && response) response.links = linked.links;
          }
      return document;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  await app.register(dashboardPage);
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(await metricsText(metrics)),
  );

  await app.register(
    async (v1) => {
      await v1.register(authPlugin, {
        client,
        adminToken: config.ADOS_ADMIN_TOKEN,
        rateLimitPerMinute: config.ADOS_API_RATE_LIMIT,
        tokenCacheMs: config.ADOS_API_TOKEN_CACHE_SECONDS * 1000,
      });
      await v1.register(tenantRoutes, { client, allowPrivateAlerts: config.ADOS_ALERT_ALLOW_PRIVATE ?? false });
      await v1.register(runRoutes, { client });
      await v1.register(artifactRoutes, { artifactsDir: config.ADOS_ARTIFACTS_DIR, client });
      await v1.register(reportRoutes, { client });
      await v1.register(quoteRoutes, { client });
      await v1.register(dashboardRoutes, {
        client,
        webUiUrl: config.ADOS_WEB_UI_URL ?? 'http://localhost:8233',
        metrics,
      });
    },
    { prefix: '/v1' },
  );

  return app;
}
