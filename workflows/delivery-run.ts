/** The deliveryRun workflow: one governed run of a DAG. */
import {
  CancellationScope,
  ParentClosePolicy,
  log,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { exportDeliveryRun } from './export-delivery-run';
import type { DeliveryRunInput } from './domain/run/dag';
import { deliveryExportWorkflowId, parseDeliveryRunWorkflowId } from './domain/ids';
import type { DeliveryRunResult } from './domain/run/run-result';
import { DeliveryRun } from './run/delivery';
import { invalidInput, openRun, type RunOpening } from './run/run-start';
import {
  admissionDecisionSignal,
  leaseGrantedSignal,
  pressureChangedSignal,
  progressQuery,
  type RunLaunch,
} from './messages/delivery-run';

// ── Message API (declared in ./messages/delivery-run) ──────────────────────────────────────────
export { admissionDecisionSignal, leaseGrantedSignal, pressureChangedSignal, progressQuery, type RunLaunch };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
/**
 * One delivery run: its DAG's nodes as activities on its tenant's queue, each after the CostAgent's
 * say, within the budget lease its tenant granted. It opens the same way whichever door it came in
 * through (./run/run-start.ts): an ADOS starter brings its launch (the input checked, prices, the
 * tenant's admission ticket); a run started bare has its worker make that launch first. Then it
 * listens to its tenant (admission while waiting, lease top-ups, pressure), answers `progress`, and
 * waits for its nodes; at the end it gives back its slot with its last costs.
 */
export async function deliveryRun(input: DeliveryRunInput, launch?: RunLaunch): Promise<DeliveryRunResult> {
  let run: DeliveryRun | undefined;
  let opening: RunOpening | undefined;
  setHandler(progressQuery, () => run?.result() ?? admittingResult(input));
  try {
    opening = await openRun(input, launch);
    if (!opening.ok) throw invalidInput(opening.problems);
    run = new DeliveryRun(opening, launch !== undefined);
    const current = run;
    setHandler(admissionDecisionSignal, (decision) => current.admissionDecided(decision));
    setHandler(leaseGrantedSignal, (grant) => current.leaseGranted(grant));
    setHandler(pressureChangedSignal, (update) => current.pressureChanged(update));
    return await run.deliver();
  } finally {
    // Shadows run on their own; the run only waits until their start is recorded.
    const shadows = run?.shadows ?? [];
    if (shadows.length > 0) await CancellationScope.nonCancellable(() => Promise.all(shadows));
    // Bare runs recorded before the export sweep started their exporter here.
    const legacySettings = !launch ? opening?.settings : undefined;
    if (legacySettings && legacySettings.exportOnClose !== false && !patched('ados-export-by-sweep'))
      await startExport();
  }
}

/** What `progress` answers before the run has opened: it is being admitted. */
function admittingResult(input: DeliveryRunInput): DeliveryRunResult {
  const runId = input.runId ?? parseDeliveryRunWorkflowId(workflowInfo().workflowId)?.runId ?? '';
  return { runId, tenantId: input.tenantId, status: 'ADMITTING', costUsd: 0, nodes: {}, decisions: [] };
}

/**
 * Starts this run's exporter as the run's last act (bare runs of earlier versions only). The child
 * outlives the run (ABANDON) and waits for it to close.
 */
async function startExport(): Promise<void> {
  const ids = parseDeliveryRunWorkflowId(workflowInfo().workflowId);
  if (!ids) return;
  const { tenantId, runId } = ids;
  await CancellationScope.nonCancellable(() =>
    startChild(exportDeliveryRun, {
      workflowId: deliveryExportWorkflowId(tenantId, runId),
      args: [{ tenantId, runId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `export artifacts of run ${runId} (${tenantId})`,
    }),
  ).catch((err) => log.warn('run export not started; ados export will pick the run up', { error: String(err) }));
}
