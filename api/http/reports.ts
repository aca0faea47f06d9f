/** HTTP route for showback reports. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { showbackCsv } from '../../activities/export/showback';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { tenantReport } from '../client';
import { tenantClient } from '../client/directory';
import { commonErrors } from './errors';

const usdByKey = z.record(z.string(), z.number());
const reportBody = z
  .object({
    tenantId: z.string(),
    from: z.string(),
    to: z.string(),
    totalUsd: z.number().describe('the sum of the rows, exact to the micro-dollar'),
    runs: z.number().int(),
    byRun: usdByKey,
    byKind: usdByKey,
    byModel: usdByKey,
    byCategory: usdByKey,
    byTag: usdByKey.describe('`key=value` → spend of the runs carrying that tag'),
    rows: z.array(
      z.object({
        runId: z.string(),
        nodeId: z.string(),
        kind: z.string(),
        model: z.string(),
        category: z.string(),
        tags: z.record(z.string(), z.string()),
        costUsd: z.number(),
        at: z.string(),
      }),
    ),
  })
  .describe("showback: the tenant's spend in [from, to) by run, node kind, model, category and tag");

/** Showback reports (docs/CONTRACT.md): JSON, or CSV with `format=csv`. */
export const reportRoutes: FastifyPluginAsyncZod<{ client: Client }> = async (api, { client }) => {
  api.get(
    '/tenants/:tenantId/reports',
    {
      schema: {
        operationId: 'getReport',
        summary: "A tenant's spend by run, node kind, model, category and tag (showback)",
        description: 'Besides the schema: `from` must be before `to` (else 400 naming both).',
        params: z.object({ tenantId: idSchema }),
        querystring: z.object({
          from: z.iso.datetime().optional().describe('default: the start of the current budget period'),
          to: z.iso.datetime().optional().describe('exclusive; default: now'),
          format: z.enum(['json', 'csv']).default('json'),
        }),
        response: {
          200: {
            description: 'the report: JSON, or one CSV line per charge',
            content: {
              'application/json': { schema: reportBody },
              'text/csv': { schema: z.string().describe('runId,nodeId,kind,model,category,tags,costUsd,at') },
            },
          },
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { from, to, format } = request.query;
      const report = await tenantReport(await tenantClient(client, request.params.tenantId), request.params.tenantId, {
        ...(from ? { from: new Date(from).toISOString() } : {}),
        ...(to ? { to: new Date(to).toISOString() } : {}),
      });
      if (format === 'csv')
        return reply
          .type('text/csv')
          .serializer((p: unknown) => p as string)
          .send(showbackCsv(report));
      return reply.type('application/json').send(report);
    },
  );
};
