import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CostCategory } from './policy/catalog';
import { validateDeliveryRunInput, type DagNode, type DeliveryRunInput } from './policy/dag';
import { tenantBudgetWorkflowId } from './policy/ids';
import { nodeTaskQueue } from './policy/routing';
import { RunState, type DeliveryRunResult, type RunStatus } from './policy/run-state';
import type { AdmissionDecision } from './policy/tenant';
import type { ControlActivities, NodeActivity, NodeTask } from './node-task';
import { DeliveryCostUsdKey, DeliveryPriorityKey, DeliveryStatusKey, TenantIdKey } from './search-attributes';
import { admissionDecisionSignal, recordCostSignal, releaseRunSignal, requestAdmissionSignal } from './tenant-budget';

// ── Message API ────────────────────────────────────────────────────────────────────────────────
/** The run's result so far: the same shape as its final result. */
export const progressQuery = defineQuery<DeliveryRunResult>('progress');
export { admissionDecisionSignal };

/** Node activities not given a timeout may run this long per attempt. */
const DEFAULT_NODE_TIMEOUT_SEC = 300;
/** Node activities heartbeat every few seconds, so a dead worker is noticed after this long. */
const NODE_HEARTBEAT_TIMEOUT = '10s';

const { deploymentSettings } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s' });

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
export async function deliveryRun(input: DeliveryRunInput): Promise<DeliveryRunResult> {
  const info = workflowInfo();
  const settings = await deploymentSettings();
  const validation = validateDeliveryRunInput(input, new Set(settings.nodeKinds));
  if (!validation.ok) {
    throw ApplicationFailure.create({
      type: 'InvalidDeliveryInput',
      message: `invalid deliveryRun input: ${validation.problems.join('; ')}`,
      nonRetryable: true,
      details: [{ problems: validation.problems }],
    });
  }
  const spec = validation.spec;
  const runId = spec.runId ?? runIdFromWorkflowId(info.workflowId, spec.tenantId) ?? uuid4();
  const run = new RunState(spec);
  const tenant = getExternalWorkflowHandle(tenantBudgetWorkflowId(spec.tenantId));
  let status: RunStatus = 'ADMITTING';
  let reason: string | undefined;
  let admission: AdmissionDecision | undefined;

  const result = (): DeliveryRunResult => ({
    runId,
    tenantId: spec.tenantId,
    status,
    costUsd: run.totalCostMicros() / 1_000_000,
    nodes: run.nodes,
    decisions: [],
    ...(reason ? { reason } : {}),
    ...(admission?.kind === 'WAITING' && status === 'WAITING' ? { queuePosition: admission.position } : {}),
  });
  const setStatus = (next: RunStatus) => {
    if (next !== status || next === 'ADMITTING') {
      status = next;
      upsertSearchAttributes([
        { key: TenantIdKey, value: spec.tenantId },
        { key: DeliveryPriorityKey, value: spec.priority },
        { key: DeliveryStatusKey, value: status },
        { key: DeliveryCostUsdKey, value: run.totalCostMicros() / 1_000_000 },
      ]);
    }
    setCurrentDetails(run.detailsMarkdown(status));
  };

  setHandler(progressQuery, result);
  setHandler(admissionDecisionSignal, (decision) => {
    if (decision.runId === runId) admission = decision;
  });
  setStatus('ADMITTING');

  // ── Admission ──
  try {
    await tenant.signal(requestAdmissionSignal, { runId, workflowId: info.workflowId, priority: spec.priority });
  } catch (err) {
    if (isCancellation(err)) throw err;
    reason = `unknown tenant ${spec.tenantId}: create it first (ados tenant set ${spec.tenantId})`;
    run.closeUnfinished(reason, new Date().toISOString());
    setStatus('REJECTED');
    return result();
  }
  try {
    await condition(() => admission !== undefined);
    if (admission?.kind === 'WAITING') {
      setStatus('WAITING');
      await condition(() => admission?.kind !== 'WAITING');
    }
    if (admission?.kind === 'REJECTED') {
      reason = admission.reason;
      run.closeUnfinished(reason, new Date().toISOString());
      setStatus('REJECTED');
      return result();
    }
    const grant = admission!.kind === 'ADMITTED' ? admission! : undefined;
    const taskQueue = nodeTaskQueue({ tenantId: spec.tenantId, partitions: settings.nodePartitions, dedicatedQueue: grant?.dedicatedQueue ?? false });
    setStatus('RUNNING');

    // ── The DAG ──
    const failure = await runNodes(run, taskQueue, () => setStatus(status), (node, costMicros, category) =>
      // Charged even if the run is being cancelled: the money was spent.
      CancellationScope.nonCancellable(() =>
        tenant.signal(recordCostSignal, { key: `${runId}/${node.id}`, runId, nodeId: node.id, category, costMicros }),
      ).catch((err) => log.error('cost event not delivered', { nodeId: node.id, error: String(err) })),
    { runId, tenantId: spec.tenantId });
    if (failure) {
      reason = failure;
      setStatus('FAILED');
      throw ApplicationFailure.create({ type: 'CriticalNodeFailed', message: failure, nonRetryable: true, details: [result()] });
    }
    setStatus(Object.values(run.nodes).some((n) => n.degraded) ? 'DEGRADED' : 'COMPLETED');
    return result();
  } catch (err) {
    if (isCancellation(err)) {
      reason = 'run cancelled';
      run.closeUnfinished(reason, new Date().toISOString());
      setStatus('CANCELLED');
    }
    throw err;
  } finally {
    // Whatever happened after the request, the slot (or the place in the queue) goes back.
    await CancellationScope.nonCancellable(() => tenant.signal(releaseRunSignal, { runId })).catch((err) =>
      log.error('slot release not delivered', { error: String(err) }),
    );
  }
}

/**
 * Runs ready nodes, most urgent first, at most maxParallelism at once. Returns the reason if a
 * critical node failed (in-flight nodes are then cancelled), or undefined when the DAG is done.
 */
async function runNodes(
  run: RunState,
  taskQueue: string,
  onChange: () => void,
  charge: (node: DagNode, costMicros: number, category: CostCategory) => Promise<unknown>,
  ids: { runId: string; tenantId: string },
): Promise<string | undefined> {
  const nodesScope = new CancellationScope();
  const inFlight = new Map<string, Promise<void>>();
  let criticalFailure: string | undefined;

  const start = (node: DagNode) => {
    const model = typeof node.params.model === 'string' ? node.params.model : undefined;
    run.markRunning(node.id, new Date().toISOString(), model);
    const task: NodeTask = { ...ids, nodeId: node.id, kind: node.kind, params: node.params, upstream: run.upstreamOutputs(node), ...(model ? { model } : {}) };
    const activity = proxyActivities<Record<string, NodeActivity>>(nodeActivityOptions(run, node, taskQueue, ids.tenantId))[node.kind]!;
    const done = nodesScope
      .run(() => activity(task))
      .then(
        async (outcome) => {
          run.markCompleted(node.id, outcome, new Date().toISOString());
          if (outcome.costMicros > 0) await charge(node, outcome.costMicros, outcome.category);
        },
        (err: unknown) => {
          // A cancelled node is closed with the run: by the critical failure that cancelled it, or
          // by the run's own cancellation, which the main loop sees through cancelRequested.
          if (isCancellation(err)) return;
          const message = failureMessage(err);
          run.markFailed(node.id, message, failedAttempts(err), new Date().toISOString());
          if (node.critical && !criticalFailure) {
            criticalFailure = `critical node ${node.id} failed: ${message}`;
            nodesScope.cancel();
          }
        },
      )
      .finally(() => {
        inFlight.delete(node.id);
        onChange();
      });
    inFlight.set(node.id, done);
    onChange();
  };

  for (;;) {
    if (!criticalFailure) {
      for (const node of run.readyNodes()) {
        if (inFlight.size >= run.spec.maxParallelism) break;
        start(node);
      }
    }
    if (inFlight.size === 0) break;
    await Promise.race([...inFlight.values(), CancellationScope.current().cancelRequested]);
  }
  if (criticalFailure) run.closeUnfinished(`cancelled: ${criticalFailure}`, new Date().toISOString());
  return criticalFailure;
}

function nodeActivityOptions(run: RunState, node: DagNode, taskQueue: string, tenantId: string): ActivityOptions {
  const retry = node.retry ?? {};
  return {
    taskQueue,
    startToCloseTimeout: `${node.timeoutSec ?? DEFAULT_NODE_TIMEOUT_SEC}s`,
    heartbeatTimeout: NODE_HEARTBEAT_TIMEOUT,
    retry: {
      maximumAttempts: retry.maximumAttempts ?? 3,
      initialInterval: retry.initialIntervalMs ?? 1000,
      backoffCoefficient: retry.backoffCoefficient ?? 2,
      maximumInterval: retry.maximumIntervalMs ?? 30_000,
    },
    priority: { priorityKey: run.effectivePriority(node), fairnessKey: tenantId },
    summary: `${node.id} (${node.kind})`,
  };
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Node activities attach their attempt number to the failures they raise. */
function failedAttempts(err: unknown): number {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as { attempt?: number } | undefined;
    if (typeof details?.attempt === 'number') return details.attempt;
  }
  return 1;
}

/** Runs started by id alone (e.g. from the Temporal CLI) take their runId from `delivery-run:{tenant}:{run}`. */
function runIdFromWorkflowId(workflowId: string, tenantId: string): string | undefined {
  const prefix = `delivery-run:${tenantId}:`;
  if (!workflowId.startsWith(prefix)) return undefined;
  const candidate = workflowId.slice(prefix.length);
  return /^[a-z0-9][a-z0-9_-]{0,62}$/.test(candidate) ? candidate : undefined;
}
