/** The sweepExports workflow: slots of runs that closed unreleased, and missed exports. */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { ExportActivities, SlotActivities } from './ports/activities';

const { exportPendingArtifacts } = proxyActivities<ExportActivities>({
  startToCloseTimeout: '10m',
  retry: { maximumAttempts: 3 },
});
const { reclaimSlots } = proxyActivities<SlotActivities>({
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by the `ados-export-sweep` Schedule every few seconds, two jobs in turn: slots of runs that
 * ended without giving theirs back (terminated from outside, or their release lost with a worker)
 * go back to their tenants, then every finished run not yet exported is exported and
 * execution/queue_state.json refreshed. Runs give their slots back themselves as they end; this is
 * the safety net for those that could not.
 */
export async function sweepExports(): Promise<{ exported: number; queues: number; reclaimed?: number }> {
  // Sweeps recorded before reclaiming was its own activity did it inside the export.
  const reclaimed = patched('ados-reclaim-slots-apart') ? (await reclaimSlots()).released : undefined;
  const exported = await exportPendingArtifacts();
  return reclaimed === undefined ? exported : { ...exported, reclaimed };
}
