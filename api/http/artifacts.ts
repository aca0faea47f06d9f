import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runArtifactsDir } from '../../activities/export/atomic';
import { idSchema } from '../../workflows/policy/ids';
import { ApiError, commonErrors } from './errors';

const ARTIFACT_NAME =
  /^(history\.json|summary\.json|cost_decision\.json|concurrency_report\.json|trace\.jsonl|task_result_[a-z0-9][a-z0-9_-]{0,62}\.json)$/;

/** A finished run's exported artifacts (docs/ARTIFACTS.md), read from the operator's artifacts folder. */
export async function artifactRoutes(app: FastifyInstance, { artifactsDir }: { artifactsDir: string }) {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/tenants/:tenantId/runs/:runId/artifacts/:name',
    {
      schema: {
        summary:
          "One of a finished run's exported artifacts (history.json, summary.json, cost_decision.json, concurrency_report.json, trace.jsonl, task_result_{nodeId}.json)",
        params: z.object({
          tenantId: idSchema,
          runId: idSchema,
          name: z.string().regex(ARTIFACT_NAME, 'must be an artifact file name'),
        }),
        produces: ['application/json', 'application/x-ndjson'],
        response: {
          200: {
            description: 'the file: JSON, or JSON lines (application/x-ndjson) for trace.jsonl',
            content: {
              'application/json': { schema: z.looseObject({}).describe('a JSON artifact (docs/ARTIFACTS.md)') },
              'application/x-ndjson': { schema: z.string().describe('one JSON object per line') },
            },
          },
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { tenantId, runId, name } = request.params;
      const path = join(runArtifactsDir(tenantId, runId, artifactsDir), name);
      if (!existsSync(path))
        throw new ApiError(404, 'NOT_FOUND', `no artifact ${name} for run ${runId} (runs are exported as they close)`);
      return reply
        .type(name.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/json')
        .serializer((payload: unknown) => payload as string)
        .send(readFileSync(path, 'utf8'));
    },
  );
}
