/** The node scheduler: a run's nodes as activities, in DAG order, within its parallelism. */
import { nodeChargeKey } from '../domain/run/charge-key';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { DagNode } from '../domain/run/dag';
import type { Gate } from '../domain/run/run-governor';
import type { RunPlan } from '../domain/run/run-plan';
import type { RunState, NodeOutcome } from '../domain/run/run-state';
import type { CostEvent } from '../domain/tenant/entity-payloads';
import type { NodeActivity, NodeTask } from '../ports/activities';
import { featuresOf } from '../domain/prediction/token-model';

/** Node activities not given a timeout may run this long per attempt. */
const DEFAULT_NODE_TIMEOUT_SEC = 300;
/** Node activities heartbeat every few seconds, so a dead worker is noticed after this long. */
const NODE_HEARTBEAT_TIMEOUT = '10s';

/** Why the run stopped early: a critical node failed, or the CostAgent terminated it. */
export type Stop = { status: 'FAILED' | 'TERMINATED'; reason: string };

/** The gate's word on a node: start it, skip it (a DEGRADE plan did), or stop the run. */
export type Verdict = boolean | Stop;

export function verdictOf(gate: Gate): Verdict {
  if (gate.kind === 'stop') return { status: 'TERMINATED', reason: gate.reason };
  return gate.kind === 'start';
}

export interface RunNodesOptions {
  taskQueue: string;
  runId: string;
  tenantId: string;
  authorize(node: DagNode): Verdict | Promise<Verdict>;
  /** A node ended: its estimate leaves the lease, and its actual cost (if it completed) is charged; a promise while a cost batch is on its way. */
  charge(node: DagNode, event?: CostEvent): Promise<void> | undefined;
  /** A node completed: the run may explore a cheaper variant of it in shadow. */
  explore(node: DagNode, task: NodeTask, outcome: NodeOutcome): void;
  /** A node started or ended: search attributes follow the status at once. */
  onChange(): void;
  /** The node table in the Web UI's current details. */
  renderDetails(): void;
}

/**
 * Runs ready nodes, most urgent first, at most maxParallelism at once, each after the CostAgent
 * authorised it. Returns why the run stopped early (in-flight nodes are then cancelled), or
 * undefined when the DAG is done. Written to create few promises: the SDK records a stack trace
 * for every promise a workflow creates, which made promises most of a short run's workflow CPU.
 */
export async function runNodes(
  run: RunState,
  plan: RunPlan,
  { taskQueue, runId, tenantId, authorize, charge, explore, onChange, renderDetails }: RunNodesOptions,
): Promise<Stop | undefined> {
  const nodesScope = new CancellationScope();
  const inFlight = new Set<string>();
  let stop: Stop | undefined;
  const halt = (why: Stop) => {
    stop ??= why;
    nodesScope.cancel();
  };
  // The loop sleeps on one promise at a time; a node that ends, or the run's cancellation, wakes it.
  let wake: (() => void) | undefined;
  let cancelled: unknown;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    cancelled = err;
    nudge();
  });

  const start = (node: DagNode) => {
    const variant = plan.variant(node);
    run.markRunning(node.id, new Date().toISOString(), variant.model);
    const negotiated = plan.negotiatedRate(variant.model);
    if (plan.isDegraded(node.id)) run.nodes[node.id]!.degraded = true;
    const task: NodeTask = {
      runId,
      tenantId,
      nodeId: node.id,
      kind: node.kind,
      params: variant.params,
      upstream: run.upstreamOutputs(node),
      ...(variant.model ? { model: variant.model } : {}),
      ...(negotiated ? { negotiatedRate: negotiated } : {}),
      ...promptModelsOf(node, run, plan),
    };
    const degradedHow = plan.isDegraded(node.id) ? describeDegradation(plan.variant(node, false), variant) : undefined;
    const activity = proxyActivities<Record<string, NodeActivity>>(
      nodeActivityOptions(run, node, taskQueue, tenantId, degradedHow),
    )[node.kind]!;
    const ended = () => {
      inFlight.delete(node.id);
      onChange();
      nudge();
    };
    const whenCharged = (sending: Promise<void> | undefined) => (sending ? void sending.then(ended) : ended());
    inFlight.add(node.id);
    onChange();
    void nodesScope
      .run(() => activity(task))
      .then(
        (outcome) => {
          run.markCompleted(node.id, outcome, new Date().toISOString());
          explore(node, task, outcome);
          whenCharged(
            charge(node, {
              key: nodeChargeKey(runId, node.id, outcome.executionId),
              runId,
              nodeId: node.id,
              category: outcome.category,
              costMicros: outcome.costMicros,
              // What the tenant's cost model learns from: the kind, the model, and the catalog's price of the variant that ran.
              kind: node.kind,
              ...((outcome.model ?? variant.model) ? { model: outcome.model ?? variant.model } : {}),
              estimateMicros: plan.catalogMicros(node.kind, variant),
              ...featuresOf(node.kind, variant.params, outcome),
              ...(run.spec.tags ? { tags: run.spec.tags } : {}),
              ...(outcome.pricing ? { pricing: outcome.pricing } : {}),
            }),
          );
        },
        (err: unknown) => {
          const sending = charge(node);
          // A cancelled node is closed with the run: by the stop that cancelled it, or by the
          // run's own cancellation, which the main loop sees through cancelRequested.
          if (!isCancellation(err)) {
            const message = failureMessage(err);
            run.markFailed(node.id, message, failedAttempts(err), new Date().toISOString());
            if (node.critical) halt({ status: 'FAILED', reason: `critical node ${node.id} failed: ${message}` });
          }
          whenCharged(sending);
        },
      );
  };

  for (;;) {
    let progressed = false;
    for (const node of stop ? [] : run.readyNodes()) {
      if (inFlight.size >= run.spec.maxParallelism) break;
      const pending = authorize(node);
      const verdict = typeof pending === 'object' && 'then' in pending ? await pending : pending;
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
    // The Web UI's node table, once per pass rather than once per node.
    renderDetails();
    if (cancelled === undefined) await new Promise<void>((resolve) => (wake = resolve));
    if (cancelled !== undefined) throw cancelled;
  }
  if (stop)
    run.closeUnfinished(
      stop.status === 'FAILED' ? `cancelled: ${stop.reason}` : `terminated: ${stop.reason}`,
      new Date().toISOString(),
    );
  return stop;
}

/** How a degraded node differs from its full form, for its activity's summary in the Web UI. */
function describeDegradation(
  full: { params: Record<string, unknown>; model?: string },
  degraded: { params: Record<string, unknown>; model?: string },
): string {
  const changes: string[] = [];
  if (full.model !== degraded.model && degraded.model)
    changes.push(`model ${full.model ?? 'default'} → ${degraded.model}`);
  for (const [key, value] of Object.entries(degraded.params)) {
    if (key !== 'model' && JSON.stringify(full.params[key]) !== JSON.stringify(value))
      changes.push(`${key} ${JSON.stringify(full.params[key] ?? null)} → ${JSON.stringify(value)}`);
  }
  return changes.length > 0 ? changes.join(', ') : 'degraded plan';
}

function nodeActivityOptions(
  run: RunState,
  node: DagNode,
  taskQueue: string,
  tenantId: string,
  degradedHow?: string,
): ActivityOptions {
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

/**
 * The models a retrieval node counts prompt tokens for: those of the llm.generate nodes fed by it
 * alone and bringing no question of their own, as planned now and as a DEGRADE plan would run them.
 */
function promptModelsOf(node: DagNode, run: RunState, plan: RunPlan): { promptModels?: string[] } {
  if (node.kind !== 'retrieval.search') return {};
  const models = new Set<string>();
  for (const n of run.spec.dag.nodes) {
    if (n.kind !== 'llm.generate' || n.deps.length !== 1 || n.deps[0] !== node.id) continue;
    if (typeof n.params.prompt === 'string' || typeof n.params.query === 'string') continue;
    for (const degraded of [false, true]) {
      const model = plan.variant(n, degraded).model;
      if (model) models.add(model);
    }
  }
  return models.size > 0 ? { promptModels: [...models].sort() } : {};
}
