/** The exportDeliveryRun workflow: a closed run's artifacts. */
import { proxyActivities } from '@temporalio/workflow';
import type { ExportActivities } from './ports/activities';

const { exportRunArtifacts } = proxyActivities<ExportActivities>({
  startToCloseTimeout: '2m',
  // The run this exports closes moments after starting us; until then the activity asks to be retried.
  retry: { initialInterval: '500ms', backoffCoefficient: 1.5, maximumInterval: '10s', maximumAttempts: 30 },
});

/**
 * Exports one delivery run's artifacts once the run has closed. Started by the run itself as its
 * last act, with parent-close policy ABANDON, so the export happens whichever way the run ended,
 * and retries on its own if a worker dies mid-export.
 */
export async function exportDeliveryRun(input: { tenantId: string; runId: string }): Promise<{ files: string[] }> {
  return exportRunArtifacts(input);
}
