/** HTTP routes of the dashboard page and its data. */
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { tenantDashboard, tenantsOverview } from '../dashboard/view';
import { SharedAnswers } from '../dashboard/shared-answers';
import type { AdosMetrics } from '../../infra/metrics/registry';
import { commonErrors } from './errors';
import { tenantClient } from '../client/directory';

/** The page and its scripts: nothing comes from the internet (uPlot from the project's own node_modules). */
export async function dashboardPage(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: join(__dirname, '..', 'dashboard', 'public'),
    prefix: '/dashboard/',
    index: 'index.html',
    redirect: true,
  });
  await app.register(fastifyStatic, {
    root: dirname(require.resolve('uplot/dist/uPlot.iife.min.js')),
    prefix: '/dashboard/uplot/',
    decorateReply: false,
    allowedPath: (path) => path === '/uPlot.iife.min.js' || path === '/uPlot.min.css',
  });
}

/** The dashboard's data (docs/DASHBOARD.md): every tenant at a glance for the admin, one tenant's view for its own token. */
export const dashboardRoutes: FastifyPluginAsyncZod<{
  client: Client;
  webUiUrl: string;
  metrics: AdosMetrics;
}> = async (api, { client, webUiUrl, metrics }) => {
  const shared = new SharedAnswers(1000, (view) => metrics.dashboardQueries.inc({ view }));
  api.get(
    '/dashboard',
    {
      schema: {
        operationId: 'getDashboardOverview',
        summary: 'Every tenant at a glance (the admin); a tenant token sees its own tenant only',
        response: {
          200: z.looseObject({
            role: z.enum(['admin', 'tenant']),
            at: z.string(),
            tenants: z.array(z.looseObject({})),
          }),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const caller = request.caller!;
      if (caller.role === 'admin')
        return { role: 'admin' as const, ...(await shared.get('overview', () => tenantsOverview(client))) };
      return {
        role: 'tenant' as const,
        ...(await shared.get(`overview:${caller.tenantId}`, async () =>
          tenantsOverview(await tenantClient(client, caller.tenantId), caller.tenantId),
        )),
      };
    },
  );
  api.get(
    '/tenants/:tenantId/dashboard',
    {
      schema: {
        operationId: 'getTenantDashboard',
        summary:
          "A tenant's dashboard: budget, spend over time and by category, model and tag, runs, decisions, alerts, learning",
        params: z.object({ tenantId: idSchema }),
        response: { 200: z.looseObject({ tenantId: z.string() }), ...commonErrors },
      },
    },
    async (request) => ({
      ...(await shared.get(`tenant:${request.params.tenantId}`, async () =>
        tenantDashboard(await tenantClient(client, request.params.tenantId), request.params.tenantId, webUiUrl),
      )),
    }),
  );
};
