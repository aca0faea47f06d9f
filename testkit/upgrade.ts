/** Workflow code of an earlier release, for upgrade tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { deliveryRun } from '../workflows/delivery-run';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../workflows/domain/ids';
import { DeliveryPriorityKey, DeliveryStatusKey, TenantIdKey } from '../workflows/ports/search-attributes';
import { sleepChain } from './temporal';
import { startAdosWorkers, type AdosWorkerOptions } from '../workers/ados-worker';

/**
 * The workflow code of ADOS 0.1.0 (the last release before admission tickets), bundled once and
 * kept as a fixture: runs and a tenant entity started on it must finish on today's code.
 */
export const V0_1_BUNDLE = {
  code: gunzipSync(
    readFileSync(join(__dirname, '..', 'tests', 'fixtures', 'bundles', 'workflows-0.1.0.js.gz')),
  ).toString('utf8'),
};

/**
 * `count` runs of a chain of `util.sleep` nodes with the given costs, started the way 0.1.0's client
 * started them: one input, no launch, the search attributes set at start.
 */
export async function startRunsAs0_1(
  client: Client,
  tenantId: string,
  { count, costs, ms }: { count: number; costs: number[]; ms: number },
): Promise<WorkflowHandle<typeof deliveryRun>[]> {
  const handles: WorkflowHandle<typeof deliveryRun>[] = [];
  for (let i = 0; i < count; i++) {
    const input = {
      tenantId,
      runId: `old-${i}`,
      dag: { nodes: sleepChain(costs, ms, 's') },
    };
    handles.push(
      await client.workflow.start(deliveryRun, {
        workflowId: deliveryRunWorkflowId(tenantId, input.runId),
        taskQueue: CONTROL_TASK_QUEUE,
        args: [input],
        typedSearchAttributes: [
          { key: TenantIdKey, value: tenantId },
          { key: DeliveryStatusKey, value: 'ADMITTING' },
          { key: DeliveryPriorityKey, value: 3 },
        ],
      }),
    );
  }
  return handles;
}

/** ADOS workers on the given workflow code (an old release's bundle, or today's); the returned function stops them. */
export async function workersOn(workflowBundle: { code: string }, options: Omit<AdosWorkerOptions, 'workflowBundle'>) {
  const workers = await startAdosWorkers({ ...options, workflowBundle, exportSchedule: false });
  return () => workers.stop();
}
