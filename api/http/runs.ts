/** HTTP routes for runs: start, list, status, result, cancel. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { idSchema } from '../../workflows/domain/run/dag-schema';
import { parseDeliveryRunWorkflowId } from '../../workflows/domain/ids';
import { runHandle, runProgress, startRun, tenantStatus } from '../client';
import { tenantClient } from '../client/directory';
import { ApiError, commonErrors } from './errors';
import { unwrapPageToken, wrapPageToken } from './page-token';
import {
  ALL_RUN_STATUSES,
  asBody,
  cancelledRunBody,
  errorBody,
  runListBody,
  runResult,
  startedRunBody,
} from './schemas';

const runParams = z.object({ tenantId: idSchema, runId: idSchema });
const runBody = deliveryRunInputSchema.omit({ tenantId: true });

/** A search attribute's value from a raw visibility record (JSON payloads). */
function attribute(fields: Record<string, Payload> | null | undefined, name: string): unknown {
  const payload = fields?.[name];
  if (!payload) return null;
  const value = defaultPayloadConverter.fromPayload<unknown>(payload);
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function isoOf(ts: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined) {
  if (!ts?.seconds) return null;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

const statusName = (status: number | null | undefined) =>
  (temporal.api.enums.v1.WorkflowExecutionStatus[status ?? 0] ?? 'UNSPECIFIED').replace(
    /^WORKFLOW_EXECUTION_STATUS_/,
    '',
  );

/** Runs: start, list (from Temporal visibility), show, cancel. */
export const runRoutes: FastifyPluginAsyncZod<{ client: Client }> = async (api, { client }) => {
  api.post(
    '/tenants/:tenantId/runs',
    {
      schema: {
        operationId: 'startRun',
        summary: 'Start a delivery run (the deliveryRun input without tenantId)',
        description:
          "Besides the schema, the DAG must be a graph (unique node ids, known dependencies, no cycles) and each node's params at most 16,000 characters of JSON: a run that breaks a rule is refused with 400 and every problem in `issues`, and nothing is started. Node kinds: the built-in ones are checked here; a DAG naming another kind is started and checked by its worker, which knows the deployment's kinds, before it is admitted (an unknown kind then ends the run FAILED with the problem, holding no slot). The tenant's admission answer is the same as for every other way of starting a run: 202 with status RUNNING (admitted) or ADMITTING (waiting for room), 429 BUDGET_EXCEEDED (the run is recorded, REJECTED, with the reason; `runId` names it), or 409 TENANT_MOVED when the tenant moved to another deployment (`ados tenant move-in`; the reason names where).",
        params: z.object({ tenantId: idSchema }),
        body: runBody,
        response: { 202: startedRunBody, 409: errorBody, 413: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { tenantId } = request.params;
      const started = await startRun(await tenantClient(client, tenantId), { ...request.body, tenantId });
      const { runId, workflowId, admission } = started;
      request.log.info({ runId, admission: admission.status }, 'run started');
      // The tenant's answer, as every door gets it; a rejected run exists, ended REJECTED with the reason.
      if (admission.status === 'REJECTED')
        throw admission.code === 'UNKNOWN_TENANT'
          ? new ApiError(404, 'NOT_FOUND', admission.reason, undefined, { runId })
          : admission.code === 'TENANT_MOVED'
            ? new ApiError(409, 'TENANT_MOVED', admission.reason, undefined, { runId })
            : new ApiError(429, 'BUDGET_EXCEEDED', admission.reason, undefined, { runId });
      return reply.code(202).send({
        runId,
        workflowId,
        status: admission.status === 'ADMITTED' ? ('RUNNING' as const) : ('ADMITTING' as const),
      });
    },
  );

  api.get(
    '/tenants/:tenantId/runs',
    {
      schema: {
        operationId: 'listRuns',
        summary: "List a tenant's runs from Temporal visibility, newest first",
        params: z.object({ tenantId: idSchema }),
        querystring: z.object({
          status: z.enum(ALL_RUN_STATUSES).optional(),
          pageSize: z.coerce.number().int().min(1).max(100).default(20),
          pageToken: z.string().max(1024).optional().describe('a nextPageToken from the previous page'),
        }),
        response: { 200: runListBody, ...commonErrors },
      },
    },
    async (request) => {
      const { tenantId } = request.params;
      const filter = `${tenantId}|${request.query.status ?? ''}`;
      const pageToken = request.query.pageToken ? unwrapPageToken(request.query.pageToken, filter) : undefined;
      const tenant = await tenantClient(client, tenantId);
      await tenantStatus(tenant, tenantId);
      const query = [
        `WorkflowType = 'deliveryRun'`,
        `TenantId = '${tenantId}'`,
        ...(request.query.status ? [`DeliveryStatus = '${request.query.status}'`] : []),
      ].join(' AND ');
      const page = await tenant.workflowService.listWorkflowExecutions({
        namespace: tenant.options.namespace,
        query,
        pageSize: request.query.pageSize,
        ...(pageToken ? { nextPageToken: pageToken } : {}),
      });
      const runs = (page.executions ?? []).map((raw) => {
        const workflowId = raw.execution?.workflowId ?? '';
        const fields = raw.searchAttributes?.indexedFields as Record<string, Payload> | undefined;
        return {
          runId: parseDeliveryRunWorkflowId(workflowId)?.runId ?? workflowId,
          workflowId,
          status: attribute(fields, 'DeliveryStatus') as (typeof ALL_RUN_STATUSES)[number] | null,
          priority: attribute(fields, 'DeliveryPriority') as number | null,
          costUsd: attribute(fields, 'DeliveryCostUsd') as number | null,
          temporalStatus: statusName(raw.status),
          startedAt: isoOf(raw.startTime) ?? new Date(0).toISOString(),
          closedAt: isoOf(raw.closeTime),
        };
      });
      const next = wrapPageToken(page.nextPageToken, filter);
      return { runs, ...(next ? { nextPageToken: next } : {}) };
    },
  );

  api.get(
    '/tenants/:tenantId/runs/:runId',
    {
      schema: {
        operationId: 'getRun',
        summary: "A run's progress, or its result once it ended",
        description: 'A run whose input failed validation is FAILED, with the problems in `reason`.',
        params: runParams,
        response: { 200: runResult, ...commonErrors },
      },
    },
    async (request) =>
      asBody(
        runResult,
        await runProgress(
          await tenantClient(client, request.params.tenantId),
          request.params.tenantId,
          request.params.runId,
        ),
      ),
  );

  api.post(
    '/tenants/:tenantId/runs/:runId/cancel',
    {
      schema: {
        operationId: 'cancelRun',
        summary: 'Cancel a run (nodes in flight are cancelled, its slot released)',
        params: runParams,
        response: {
          202: cancelledRunBody,
          409: errorBody.describe('the run has already ended'),
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { tenantId, runId } = request.params;
      const description = await runHandle(await tenantClient(client, tenantId), tenantId, runId)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError)
            throw new ApiError(404, 'NOT_FOUND', `unknown run ${runId} of tenant ${tenantId}`);
          throw err;
        });
      if (description.status.name !== 'RUNNING')
        throw new ApiError(409, 'CONFLICT', `run ${runId} has already ended (${description.status.name})`);
      await runHandle(await tenantClient(client, tenantId), tenantId, runId).cancel();
      return reply.code(202).send({ runId, cancelRequested: true as const });
    },
  );
};
