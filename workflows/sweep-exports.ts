import { proxyActivities } from '@temporalio/workflow';
import type { ExportActivities } from './node-task';

const { exportPendingArtifacts } = proxyActivities<ExportActivities>({
  startToCloseTimeout: '10m',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by the `ados-export-sweep` Schedule: exports every finished run not yet exported (a run
 * whose own export never happened, or died) and refreshes execution/queue_state.json.
 */
export async function sweepExports(): Promise<{ exported: number; queues: number }> {
  return exportPendingArtifacts();
}
