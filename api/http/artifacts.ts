/** HTTP routes to a run's and a tenant's artifact files. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runArtifactsDir } from '../../activities/export/atomic';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { runHandle } from '../client';
import { tenantClient } from '../client/directory';
import { ApiError, commonErrors } from './errors';
import { errorBody } from './schemas';

const ARTIFACT_NAME =
  /^(history\.json|summary\.json|cost_decision\.json|concurrency_report\.json|trace\.jsonl|task_result_[a-z0-9][a-z0-9_-]{0,62}\.json)$/;

/** A finished run's exported artifacts (docs/ARTIFACTS.md), read from the operator's artifacts folder. */
export const artifactRoutes: FastifyPluginAsyncZod<{ artifactsDir: string; client: Client }> = async (
  api,
  { artifactsDir, client },
) => {
  api.get(
    '/tenants/:tenantId/runs/:runId/artifacts/:name',
    {
      schema: {
        operationId: 'getArtifact',
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
          409: errorBody.describe('the run exists but is not exported yet: it runs, or it ended moments ago'),
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { tenantId, runId, name } = request.params;
      const path = join(runArtifactsDir(tenantId, runId, artifactsDir), name);
      if (!existsSync(path)) {
        const exists = await runHandle(await tenantClient(client, tenantId), tenantId, runId)
          .describe()
          .then(
            () => true,
            (err: unknown) => {
              if (err instanceof WorkflowNotFoundError) return false;
              throw err;
            },
          );
        if (!exists) throw new ApiError(404, 'NOT_FOUND', `unknown run ${runId} of tenant ${tenantId}`);
        // Runs are exported within seconds of their end (the export sweep); a task_result of a node that never ran never appears.
        if (
          name === 'summary.json' ||
          !existsSync(join(runArtifactsDir(tenantId, runId, artifactsDir), 'summary.json'))
        )
          throw new ApiError(
            409,
            'NOT_EXPORTED',
            `run ${runId} is not exported yet: its artifacts appear within seconds of its end`,
          );
        throw new ApiError(404, 'NOT_FOUND', `run ${runId} has no artifact ${name}`);
      }
      return reply
        .type(name.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/json')
        .serializer((payload: unknown) => payload as string)
        .send(readFileSync(path, 'utf8'));
    },
  );
};
