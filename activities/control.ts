import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { releaseRunSignal, tenantStatusQuery } from '../workflows/tenant-budget';
import { DEFAULT_NODE_PARTITIONS } from '../workflows/policy/routing';
import { isValidId, tenantBudgetWorkflowId } from '../workflows/policy/ids';
import type { ControlActivities, DeploymentSettings, ExportActivities } from '../workflows/node-task';
import { exportFinished, exportRun, exportTenant } from './export/exporter';
import { writeQueueState } from './export/queue-state';
import { nodeKinds } from './nodes/registry';

/**
 * A run terminated from outside never releases its slot. The sweep finds runs the entity still
 * counts as in flight whose workflows have closed, and releases them for it.
 */
export async function releaseClosedRuns(client: Client, tenantId: string): Promise<string[]> {
  const entity = client.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
  const status = await entity.query(tenantStatusQuery);
  const released: string[] = [];
  for (const run of [...status.runsInFlight, ...status.runsWaiting]) {
    const closed = await client.workflow
      .getHandle(run.workflowId)
      .describe()
      .then((d) => d.status.name !== 'RUNNING', (err: unknown) => err instanceof WorkflowNotFoundError);
    if (!closed) continue;
    await entity.signal(releaseRunSignal, { runId: run.runId });
    released.push(run.runId);
  }
  return released;
}

export function nodePartitionsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ADOS_NODE_PARTITIONS;
  if (raw === undefined || raw === '') return DEFAULT_NODE_PARTITIONS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`ADOS_NODE_PARTITIONS must be an integer from 1 to 1024, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Activities of the control worker: local ones the workflows call for facts only a process knows,
 * and the exporter, which reads histories through a client of its own.
 */
export function createControlActivities({ address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233', namespace = process.env.TEMPORAL_NAMESPACE ?? 'default' } = {}): ControlActivities & ExportActivities {
  let client: Promise<Client> | undefined;
  const getClient = () => (client ??= Connection.connect({ address }).then((connection) => new Client({ connection, namespace })));
  return {
    async exportRunArtifacts({ tenantId, runId }) {
      const c = await getClient();
      const outcome = await exportRun(c, tenantId, runId);
      // The run starts its exporter just before it closes; a retry finds it closed.
      if (!outcome.exported && outcome.reason === 'still running') throw ApplicationFailure.retryable(`run ${runId} has not closed yet`, 'RunStillOpen');
      const tenantFiles = await exportTenant(c, tenantId).catch(() => []);
      return { files: [...(outcome.files ?? []), ...tenantFiles] };
    },
    async exportPendingArtifacts() {
      const c = await getClient();
      const { runs, tenants } = await exportFinished(c, {});
      // Every tenant's files are refreshed periodically, not only those with newly finished runs.
      for await (const entity of c.workflow.list({ query: `WorkflowType = 'tenantBudget' AND ExecutionStatus = 'Running'` })) {
        const tenantId = entity.workflowId.replace(/^tenant-budget:/, '');
        if (!isValidId(tenantId)) continue;
        await releaseClosedRuns(c, tenantId);
        if (!(tenantId in tenants)) await exportTenant(c, tenantId).catch(() => undefined);
      }
      const queues = await writeQueueState(c, nodePartitionsFromEnv());
      return { exported: runs.filter((r) => r.exported).length, queues };
    },
    async deploymentSettings(): Promise<DeploymentSettings> {
      return { nodePartitions: nodePartitionsFromEnv(), nodeKinds: nodeKinds().map((k) => k.kind).sort() };
    },
  };
}
