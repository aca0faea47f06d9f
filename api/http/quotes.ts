/** HTTP route for quotes: what a run would cost, before it starts. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { quote } from '../client';
import { tenantClient } from '../client/directory';
import { QUOTE_BASES, RUN_QUOTE_BASES } from '../../workflows/domain/prediction/quote';
import { commonErrors } from './errors';
import { asBody } from './schemas';

const basis = z.enum(QUOTE_BASES);
const quoteBody = z
  .object({
    tenantId: z.string(),
    p5Usd: z.number(),
    p50Usd: z.number(),
    p95Usd: z.number(),
    confidence: z.number().min(0).max(1),
    basis: z.enum(RUN_QUOTE_BASES).describe('`mixed`: the cost model covers some priced nodes'),
    byNode: z.array(
      z.object({
        nodeId: z.string(),
        kind: z.string(),
        model: z.string().optional(),
        p5Usd: z.number(),
        p50Usd: z.number(),
        p95Usd: z.number(),
        basis: basis.describe("`learned` where the tenant's cost model covers the node, else `catalog`"),
        samples: z.number().int(),
      }),
    ),
    prices: z.object({ source: z.string(), version: z.string() }),
  })
  .describe('what the run would cost, from its DAG, today’s prices and the tenant’s learned cost model');

/** Quotes: a run's cost before it runs (docs/CONTRACT.md). */
export const quoteRoutes: FastifyPluginAsyncZod<{ client: Client }> = async (api, { client }) => {
  api.post(
    '/tenants/:tenantId/quotes',
    {
      schema: {
        operationId: 'quoteRun',
        summary: 'What a run would cost (p50, p95, per node), without running anything',
        description:
          'The body is a run as for POST /tenants/{tenantId}/runs, checked the same way. Nothing is started and no money is reserved.',
        params: z.object({ tenantId: idSchema }),
        body: deliveryRunInputSchema.omit({ tenantId: true }),
        response: { 200: quoteBody, ...commonErrors },
      },
    },
    async (request) =>
      asBody(
        quoteBody,
        await quote(await tenantClient(client, request.params.tenantId), {
          ...request.body,
          tenantId: request.params.tenantId,
        }),
      ),
  );
};
