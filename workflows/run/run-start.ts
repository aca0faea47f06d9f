/** A run's opening: its launch settings, validation and admission. */
import { ApplicationFailure, CancellationScope, proxyLocalActivities, uuid4, workflowInfo } from '@temporalio/workflow';
import {
  recheckDeliveryRunInput,
  validateDeliveryRunInput,
  type DeliveryRunInput,
  type DeliveryRunSpec,
  type ValidationResult,
} from '../domain/run/dag';
import { parseDeliveryRunWorkflowId } from '../domain/ids';
import type { RunLaunch } from '../messages/delivery-run';
import type { ControlActivities, DeploymentSettings } from '../ports/activities';

/** A launch waits for its tenant's admission answer up to 5 s (api/client/admission/by-entity.ts) before it leaves the run to ask by signal. */
const { deploymentSettings } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '30s' });

/** A run's start: its input checked, and what it knows before its first node. */
export interface RunStart {
  spec: DeliveryRunSpec & { runId: string };
  /**
   * Its launch: given by an ADOS starter, or made by its own worker for a run started bare. A run
   * with a launch holding no ticket asks its tenant by signal (it must wait, or no answer came).
   */
  launch?: RunLaunch;
  /** Settings read from the worker, by runs recorded before launches were made in the worker. */
  settings?: DeploymentSettings;
  /** The deployment's ADOS_NODE_PARTITIONS, which names the tenant's node queue: the launch's, or the settings'. */
  nodePartitions: number;
}

/** How the opening went: the run's start, or every problem of its input. */
export type RunOpening = ({ ok: true } & RunStart) | { ok: false; problems: string[]; settings?: DeploymentSettings };

/**
 * The run's first step, the same for every door: a run started by an ADOS starter brings its
 * launch; a run started bare (the Temporal CLI, a plain client) has its worker make the same launch
 * (the one validation, prices, admission) before anything else. Admission comes only after the
 * validation passed, so an invalid run never holds a slot.
 */
export async function openRun(input: DeliveryRunInput, given: RunLaunch | undefined): Promise<RunOpening> {
  const { workflowId } = workflowInfo();
  // Checked by its starter: the same checks again as the last line of defence, without building the schema.
  if (given?.kindsChecked) return opened(recheckDeliveryRunInput(input, { workflowId }), { launch: given });
  if (given) {
    // Runs recorded by starters that left custom kinds to the run: settings first, then the check.
    const settings = await deploymentSettings();
    return opened(validateDeliveryRunInput(input, { knownKinds: settings.nodeKinds, workflowId }), {
      launch: given,
      settings,
    });
  }
  // Not cancellable: a cancel that arrives meanwhile must still find the ticket, to give its slot back.
  const settings = await CancellationScope.nonCancellable(() =>
    deploymentSettings({ input, workflowId, startedAt: workflowInfo().startTime.toISOString() }),
  );
  // Which version recorded the run is in its history: this one's settings marker carries the launch.
  // (A patch would say it too, at two more events a run: its marker and its search-attribute upsert.)
  if (settings.launched) {
    if ('problems' in settings.launched) return { ok: false, problems: settings.launched.problems };
    // The last line of defence: the same checks again, in the workflow (the launch checked the kinds).
    return opened(recheckDeliveryRunInput(input, { workflowId }), { launch: settings.launched.launch });
  }
  // Recorded by an earlier version: the settings alone; the run asks its tenant by signal.
  const validation = validateDeliveryRunInput(input, { knownKinds: settings.nodeKinds });
  if (!validation.ok) return { ok: false, problems: validation.problems, settings };
  // These runs took their runId from `delivery-run:{tenant}:{run}` when it named their tenant.
  const fromId = parseDeliveryRunWorkflowId(workflowId);
  const spec = validation.spec;
  const runId = spec.runId ?? (fromId?.tenantId === spec.tenantId ? fromId.runId : undefined) ?? uuid4();
  return { ok: true, spec: { ...spec, runId }, settings, nodePartitions: settings.nodePartitions };
}

function opened(
  validation: ValidationResult,
  start: Omit<RunStart, 'spec' | 'nodePartitions'> & { launch: RunLaunch },
): RunOpening {
  if (!validation.ok)
    return { ok: false, problems: validation.problems, ...(start.settings ? { settings: start.settings } : {}) };
  // With a workflow id checked, the spec's runId is the input's or the id's.
  const spec = validation.spec as DeliveryRunSpec & { runId: string };
  return { ok: true, spec, ...start, nodePartitions: start.launch.nodePartitions };
}

/** The failure of a run whose input is invalid: at once, not retried, every problem listed. */
export function invalidInput(problems: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'InvalidDeliveryInput',
    message: `invalid deliveryRun input: ${problems.join('; ')}`,
    nonRetryable: true,
    details: [{ problems }],
  });
}
