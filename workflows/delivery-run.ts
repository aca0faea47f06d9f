import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  startChild,
  condition,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { exportDeliveryRun } from './export-delivery-run';
import { metrics } from './metrics-sink';
import { shadowExploration } from './shadow-exploration';
import { cheaperModel } from './policy/catalog';
import { catalogEstimateMicros } from './policy/estimates';
import { decideCost } from './policy/cost-agent';
import { validateDeliveryRunInput, type DagNode, type DeliveryRunInput } from './policy/dag';
import { parseDeliveryRunWorkflowId, tenantBudgetWorkflowId } from './policy/ids';
import { nodeTaskQueue } from './policy/routing';
import { RunPlan } from './policy/run-plan';
import { FINAL_RUN_STATUSES, RunState, type CostDecision, type DeliveryRunResult, type NodeOutcome, type RunLearningReport, type RunStatus } from './policy/run-state';
import type { AdmissionDecision, CostEvent, LeaseGrant } from './policy/tenant';
import type { ControlActivities, NodeActivity, NodeTask } from './node-task';
import { BudgetStatusKey, DeliveryCostUsdKey, DeliveryPriorityKey, DeliveryStatusKey, TenantIdKey } from './search-attributes';
import {
  admissionDecisionSignal,
  leaseGrantedSignal,
  pressureChangedSignal,
  recordCostsSignal,
  releaseRunSignal,
  requestAdmissionSignal,
  requestLeaseSignal,
} from './tenant-budget';

// ── Message API ────────────────────────────────────────────────────────────────────────────────
/** The run's result so far: the same shape as its final result. */
export const progressQuery = defineQuery<DeliveryRunResult>('progress');
export { admissionDecisionSignal, leaseGrantedSignal, pressureChangedSignal };

/** Node activities not given a timeout may run this long per attempt. */
const DEFAULT_NODE_TIMEOUT_SEC = 300;
/** Node activities heartbeat every few seconds, so a dead worker is noticed after this long. */
const NODE_HEARTBEAT_TIMEOUT = '10s';
/** Costs go to the entity in batches this large (and with every lease request and the release). */
const COST_BATCH = 16;

const { deploymentSettings } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s' });

/** Why the run stopped early: a critical node failed, or the CostAgent terminated it. */
type Stop = { status: 'FAILED' | 'TERMINATED'; reason: string };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
export async function deliveryRun(input: DeliveryRunInput): Promise<DeliveryRunResult> {
  const shadows: Promise<unknown>[] = [];
  const deployment: { exportOnClose?: boolean } = {};
  try {
    return await deliver(input, shadows, deployment);
  } finally {
    // Shadows run on their own; the run only waits until their start is recorded.
    await CancellationScope.nonCancellable(() => Promise.all(shadows));
    if (deployment.exportOnClose !== false) await startExport();
  }
}

/**
 * Starts this run's exporter as the run's last act, whichever way it ends. The child outlives the
 * run (ABANDON) and waits for it to close; runs whose workflow id is not
 * `delivery-run:{tenantId}:{runId}` are left to `ados export`.
 */
async function startExport(): Promise<void> {
  const ids = parseDeliveryRunWorkflowId(workflowInfo().workflowId);
  if (!ids) return;
  const { tenantId, runId } = ids;
  await CancellationScope.nonCancellable(() =>
    startChild(exportDeliveryRun, {
      workflowId: `delivery-export:${tenantId}:${runId}`,
      args: [{ tenantId, runId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `export artifacts of run ${runId} (${tenantId})`,
    }),
  ).catch((err) => log.warn('run export not started; ados export will pick the run up', { error: String(err) }));
}

async function deliver(input: DeliveryRunInput, shadows: Promise<unknown>[], deployment: { exportOnClose?: boolean }): Promise<DeliveryRunResult> {
  const info = workflowInfo();
  const settings = await deploymentSettings();
  deployment.exportOnClose = settings.exportOnClose;
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
  // Runs started by id alone (e.g. from the Temporal CLI) take their runId from `delivery-run:{tenant}:{run}`.
  const fromId = parseDeliveryRunWorkflowId(info.workflowId);
  const runId = spec.runId ?? (fromId?.tenantId === spec.tenantId ? fromId.runId : undefined) ?? uuid4();
  const run = new RunState(spec);
  const plan = new RunPlan(run);
  const tenant = getExternalWorkflowHandle(tenantBudgetWorkflowId(spec.tenantId));
  const decisions: CostDecision[] = [];
  let status: RunStatus = 'ADMITTING';
  let reason: string | undefined;
  let admission: AdmissionDecision | undefined;
  let lease: LeaseGrant | undefined;
  let learning: RunLearningReport | undefined;
  let published: { status?: RunStatus; budget?: string } = {};

  // Costs of finished nodes not yet sent to the entity; sent in batches, each idempotent on its key.
  let unreported: CostEvent[] = [];
  const takeUnreported = () => {
    const batch = unreported;
    unreported = [];
    return batch;
  };

  const result = (): DeliveryRunResult => ({
    runId,
    tenantId: spec.tenantId,
    status,
    costUsd: run.totalCostMicros() / 1_000_000,
    nodes: run.nodes,
    decisions,
    ...(reason ? { reason } : {}),
    ...(admission?.kind === 'WAITING' && status === 'WAITING' ? { queuePosition: admission.position } : {}),
    ...(lease ? { budgetStatus: lease.pressure.budgetStatus } : {}),
    ...(learning ? { learning } : {}),
  });
  const publish = (next: RunStatus = status) => {
    if (next !== status && FINAL_RUN_STATUSES.includes(next)) metrics.runEnded(spec.tenantId, next);
    status = next;
    const budget = lease?.pressure.budgetStatus;
    if (published.status !== status || published.budget !== budget) {
      upsertSearchAttributes([
        { key: TenantIdKey, value: spec.tenantId },
        { key: DeliveryPriorityKey, value: spec.priority },
        { key: DeliveryStatusKey, value: status },
        { key: DeliveryCostUsdKey, value: run.totalCostMicros() / 1_000_000 },
        ...(budget ? [{ key: BudgetStatusKey, value: budget }] : []),
      ]);
      published = { status, budget };
    }
    setCurrentDetails(run.detailsMarkdown(status, decisions));
  };

  setHandler(progressQuery, result);
  setHandler(admissionDecisionSignal, (decision) => {
    // The entity may send an answer twice (across its continue-as-new); only the first final one counts.
    if (decision.runId !== runId || (admission && admission.kind !== 'WAITING')) return;
    admission = decision;
    if (decision.kind === 'ADMITTED') lease = decision.lease;
  });
  setHandler(leaseGrantedSignal, (grant) => {
    if (grant.runId === runId && (!lease || grant.seq >= lease.seq)) lease = grant;
  });
  setHandler(pressureChangedSignal, (update) => {
    // Newer pressure for the next decision; the money granted so far stays authorised.
    if (update.runId === runId && lease) lease = { ...lease, pressure: update.pressure };
  });
  publish('ADMITTING');

  // ── Admission, with a first lease covering the run's estimated cost ──
  try {
    await tenant.signal(requestAdmissionSignal, { runId, workflowId: info.workflowId, priority: spec.priority, estimatedMicros: plan.remainingMicros() });
  } catch (err) {
    if (isCancellation(err)) throw err;
    reason = `unknown tenant ${spec.tenantId}: create it first (ados tenant set ${spec.tenantId})`;
    run.closeUnfinished(reason, new Date().toISOString());
    publish('REJECTED');
    return result();
  }
  const askedAt = new Date().getTime();
  try {
    await condition(() => admission !== undefined);
    if (admission?.kind === 'WAITING') {
      publish('WAITING');
      await condition(() => admission?.kind !== 'WAITING');
    }
    metrics.admission(admission!.kind, new Date().getTime() - askedAt);
    if (admission?.kind === 'REJECTED') {
      reason = admission.reason;
      run.closeUnfinished(reason, new Date().toISOString());
      publish('REJECTED');
      return result();
    }
    const dedicatedQueue = admission?.kind === 'ADMITTED' && admission.dedicatedQueue;
    const taskQueue = nodeTaskQueue({ tenantId: spec.tenantId, partitions: settings.nodePartitions, dedicatedQueue });
    if (admission?.kind === 'ADMITTED' && admission.learning) {
      // What the tenant has learned: its cost model for the estimates, proven cheaper models for the plan.
      learning = { explore: admission.learning.explore, choices: plan.learn(admission.learning) };
    }
    publish('RUNNING');

    // ── The budget: a lease from the entity, spent locally, topped up when it runs short ──
    const inFlightEstimates = new Map<string, number>();
    const inFlightMicros = () => [...inFlightEstimates.values()].reduce((a, b) => a + b, 0);
    const leaseAvailable = () => (lease?.grantedMicros ?? 0) - run.totalCostMicros() - inFlightMicros();
    let leaseSeq = 0;
    const topUp = async (neededMicros: number) => {
      const seq = ++leaseSeq;
      await CancellationScope.nonCancellable(() =>
        tenant.signal(requestLeaseSignal, { runId, seq, requestMicros: neededMicros, estRemainingMicros: plan.remainingMicros(), costs: takeUnreported() }),
      );
      await condition(() => (lease?.seq ?? 0) >= seq);
    };

    /** The CostAgent's say before a node starts; resolves to whether the node may start. */
    const authorize = async (node: DagNode): Promise<boolean | Stop> => {
      // A DEGRADE plan made earlier in this pass may have skipped it.
      if (run.nodes[node.id]!.status !== 'PENDING') return false;
      const nodesDone = Object.values(run.nodes).filter((n) => n.status !== 'PENDING' && n.status !== 'RUNNING').length;
      const verdict = decideCost({
        pressure: lease!.pressure,
        unreportedMicros: unreported.reduce((sum, e) => sum + e.costMicros, 0),
        remainingFullMicros: plan.remainingMicros(),
        remainingDegradedMicros: plan.remainingDegradedMicros(),
        nodesDone,
        nodesTotal: spec.dag.nodes.length,
        alreadyDegraded: plan.degraded,
        estimateConfidence: plan.remainingConfidence(),
      });
      const record = (v: typeof verdict, extra: Partial<CostDecision> = {}) => {
        metrics.decision(v.action);
        decisions.push({
          ...v,
          nodeId: node.id,
          at: new Date().toISOString(),
          nodeEstimateUsd: plan.estimate(node) / 1e6,
          leaseAvailableUsd: leaseAvailable() / 1e6,
          runProjectedUsd: (run.totalCostMicros() + inFlightMicros() + plan.remainingMicros()) / 1e6,
          nodesDone,
          ...extra,
        });
      };
      if (verdict.action === 'TERMINATE') {
        record(verdict);
        return { status: 'TERMINATED', reason: verdict.reason };
      }
      if (verdict.action === 'DEGRADE') record(verdict, { plan: plan.degrade() });
      else record(verdict);
      if (run.nodes[node.id]!.status === 'SKIPPED') return false;

      let needed = plan.estimate(node);
      if (needed > leaseAvailable()) {
        // Nodes still in flight may finish during the round trip and overdraw the new lease again
        // (a cost above its estimate); ask again while the entity keeps granting what is asked.
        for (let asks = 0; asks < 3 && needed > leaseAvailable(); asks++) {
          const before = lease?.grantedMicros ?? 0;
          const asked = plan.remainingMicros() - leaseAvailable();
          await topUp(asked);
          if ((lease?.grantedMicros ?? 0) - before < asked) break;
        }
        if (needed > leaseAvailable() && !plan.degraded) {
          const degradePlan = plan.degrade();
          record({ ...verdict, action: 'DEGRADE', reason: `the lease could not cover ${node.id}; degrading the rest of the run` }, { plan: degradePlan });
          if (run.nodes[node.id]!.status === 'SKIPPED') return false;
          needed = plan.estimate(node);
        }
        if (needed > leaseAvailable()) {
          const stop = `no budget left to authorise node ${node.id}: it needs $${(needed / 1e6).toFixed(6)}, $${(Math.max(0, leaseAvailable()) / 1e6).toFixed(6)} is available`;
          record({ ...verdict, action: 'TERMINATE', reason: stop });
          return { status: 'TERMINATED', reason: stop };
        }
      }
      inFlightEstimates.set(node.id, needed);
      return true;
    };

    const charge = async (node: DagNode, event?: CostEvent) => {
      inFlightEstimates.delete(node.id);
      if (event && event.costMicros > 0) {
        unreported.push(event);
        metrics.spent(spec.tenantId, event.category, event.costMicros / 1e6);
      }
      if (unreported.length >= COST_BATCH) {
        // Sent even while the run is being cancelled: the money was spent.
        await CancellationScope.nonCancellable(() => tenant.signal(recordCostsSignal, { events: takeUnreported() }));
      }
    };

    /** On an exploring run, the first LLM node with a cheaper model is run again in shadow. */
    const explore = (node: DagNode, task: NodeTask, outcome: NodeOutcome) => {
      const fromModel = task.model;
      const toModel = fromModel ? cheaperModel(fromModel) : undefined;
      if (!learning?.explore || learning.shadow || node.kind !== 'llm.generate' || !fromModel || !toModel) return;
      const workflowId = `shadow-exploration:${spec.tenantId}:${runId}:${node.id}`;
      learning.shadow = { nodeId: node.id, workflowId, fromModel, toModel };
      const catalogFull = catalogEstimateMicros(node.kind, { params: task.params, model: fromModel });
      const catalogShadow = catalogEstimateMicros(node.kind, { params: task.params, model: toModel });
      const reference = spec.dag.nodes.find((n) => n.kind === 'eval.score' && typeof n.params.reference === 'string')?.params.reference as string | undefined;
      shadows.push(
        // Not cancellable: once asked for, the shadow belongs to the tenant's learning, not to this run.
        CancellationScope.nonCancellable(() => startChild(shadowExploration, {
          workflowId,
          args: [{ tenantId: spec.tenantId, runId, nodeId: node.id, taskQueue, task, realOutput: outcome.output, realCostMicros: outcome.costMicros, fromModel, toModel, estimateMicros: catalogFull > 0 ? Math.round((outcome.costMicros * catalogShadow) / catalogFull) : catalogShadow, ...(reference ? { reference } : {}) }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `shadow of ${node.id} in run ${runId} (${spec.tenantId}): ${fromModel} → ${toModel}`,
        })).catch((err) => log.warn('shadow exploration not started', { nodeId: node.id, error: String(err) })),
      );
    };

    const stop = await runNodes(run, plan, { taskQueue, runId, tenantId: spec.tenantId, authorize, charge, explore, onChange: () => publish() });
    if (stop?.status === 'FAILED') {
      reason = stop.reason;
      publish('FAILED');
      throw ApplicationFailure.create({ type: 'CriticalNodeFailed', message: stop.reason, nonRetryable: true, details: [result()] });
    }
    if (stop?.status === 'TERMINATED') {
      reason = stop.reason;
      publish('TERMINATED');
      return result();
    }
    publish(Object.values(run.nodes).some((n) => n.degraded) ? 'DEGRADED' : 'COMPLETED');
    return result();
  } catch (err) {
    if (isCancellation(err)) {
      reason = 'run cancelled';
      run.closeUnfinished(reason, new Date().toISOString());
      publish('CANCELLED');
      // A cancelled workflow returns nothing; its memo keeps the result for the history and the exporter.
      upsertMemo({ result: result() });
    }
    throw err;
  } finally {
    // Whatever happened after the request, the slot (or the place in the queue) goes back, with the last costs.
    await CancellationScope.nonCancellable(() => tenant.signal(releaseRunSignal, { runId, costs: takeUnreported() })).catch((err) =>
      log.error('slot release not delivered', { error: String(err) }),
    );
  }
}

interface RunNodesOptions {
  taskQueue: string;
  runId: string;
  tenantId: string;
  authorize(node: DagNode): Promise<boolean | Stop>;
  /** A node ended: its estimate leaves the lease, and its actual cost (if it completed) is charged. */
  charge(node: DagNode, event?: CostEvent): Promise<void>;
  /** A node completed: the run may explore a cheaper variant of it in shadow. */
  explore(node: DagNode, task: NodeTask, outcome: NodeOutcome): void;
  onChange(): void;
}

/**
 * Runs ready nodes, most urgent first, at most maxParallelism at once, each after the CostAgent
 * authorised it. Returns why the run stopped early (in-flight nodes are then cancelled), or
 * undefined when the DAG is done.
 */
async function runNodes(run: RunState, plan: RunPlan, { taskQueue, runId, tenantId, authorize, charge, explore, onChange }: RunNodesOptions): Promise<Stop | undefined> {
  const nodesScope = new CancellationScope();
  const inFlight = new Map<string, Promise<void>>();
  let stop: Stop | undefined;
  const halt = (why: Stop) => {
    stop ??= why;
    nodesScope.cancel();
  };

  const start = (node: DagNode) => {
    const variant = plan.variant(node);
    run.markRunning(node.id, new Date().toISOString(), variant.model);
    if (plan.isDegraded(node.id)) run.nodes[node.id]!.degraded = true;
    const task: NodeTask = { runId, tenantId, nodeId: node.id, kind: node.kind, params: variant.params, upstream: run.upstreamOutputs(node), ...(variant.model ? { model: variant.model } : {}) };
    const degradedHow = plan.isDegraded(node.id) ? describeDegradation(plan.variant(node, false), variant) : undefined;
    const activity = proxyActivities<Record<string, NodeActivity>>(nodeActivityOptions(run, node, taskQueue, tenantId, degradedHow))[node.kind]!;
    const done = nodesScope
      .run(() => activity(task))
      .then(
        async (outcome) => {
          run.markCompleted(node.id, outcome, new Date().toISOString());
          explore(node, task, outcome);
          await charge(node, {
            key: `${runId}/${node.id}`,
            runId,
            nodeId: node.id,
            category: outcome.category,
            costMicros: outcome.costMicros,
            // What the tenant's cost model learns from: the kind, the model, and the catalog's price of the variant that ran.
            kind: node.kind,
            ...(outcome.model ?? variant.model ? { model: outcome.model ?? variant.model } : {}),
            estimateMicros: catalogEstimateMicros(node.kind, variant),
          });
        },
        async (err: unknown) => {
          await charge(node);
          // A cancelled node is closed with the run: by the stop that cancelled it, or by the
          // run's own cancellation, which the main loop sees through cancelRequested.
          if (isCancellation(err)) return;
          const message = failureMessage(err);
          run.markFailed(node.id, message, failedAttempts(err), new Date().toISOString());
          if (node.critical) halt({ status: 'FAILED', reason: `critical node ${node.id} failed: ${message}` });
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
    let progressed = false;
    for (const node of stop ? [] : run.readyNodes()) {
      if (inFlight.size >= run.spec.maxParallelism) break;
      const verdict = await authorize(node);
      if (typeof verdict === 'object') {
        halt(verdict);
        break;
      }
      progressed = true;
      if (verdict) start(node);
    }
    if (inFlight.size === 0) {
      // A node skipped by a DEGRADE plan may have made its dependents ready.
      if (!stop && progressed && run.readyNodes().length > 0) continue;
      break;
    }
    await Promise.race([...inFlight.values(), CancellationScope.current().cancelRequested]);
  }
  if (stop) run.closeUnfinished(stop.status === 'FAILED' ? `cancelled: ${stop.reason}` : `terminated: ${stop.reason}`, new Date().toISOString());
  return stop;
}

/** How a degraded node differs from its full form, for its activity's summary in the Web UI. */
function describeDegradation(full: { params: Record<string, unknown>; model?: string }, degraded: { params: Record<string, unknown>; model?: string }): string {
  const changes: string[] = [];
  if (full.model !== degraded.model && degraded.model) changes.push(`model ${full.model ?? 'default'} → ${degraded.model}`);
  for (const [key, value] of Object.entries(degraded.params)) {
    if (key !== 'model' && JSON.stringify(full.params[key]) !== JSON.stringify(value)) changes.push(`${key} ${JSON.stringify(full.params[key] ?? null)} → ${JSON.stringify(value)}`);
  }
  return changes.length > 0 ? changes.join(', ') : 'degraded plan';
}

function nodeActivityOptions(run: RunState, node: DagNode, taskQueue: string, tenantId: string, degradedHow?: string): ActivityOptions {
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
    summary: degradedHow ? `${node.id} (${node.kind}) · degraded: ${degradedHow}` : `${node.id} (${node.kind})`,
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
