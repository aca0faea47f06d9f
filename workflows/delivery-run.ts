import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  startChild,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
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
import { releases } from './release-sink';
import { shadowExploration } from './shadow-exploration';
import { cheaperModel, usd, type RunPrices } from './policy/catalog';
import { catalogEstimateMicros } from './policy/estimates';
import { validateDeliveryRunInput, type DagNode, type DeliveryRunInput, type DeliveryRunSpec } from './policy/dag';
import { parseDeliveryRunWorkflowId, tenantBudgetWorkflowId } from './policy/ids';
import { nodeTaskQueue } from './policy/routing';
import { RunGovernor, type Gate } from './policy/run-governor';
import { RunPlan } from './policy/run-plan';
import { quoteMicros } from './policy/quote';
import { RunState, type NodeOutcome } from './policy/run-state';
import {
  FINAL_RUN_STATUSES,
  type DeliveryRunResult,
  type RunLearningReport,
  type RunStatus,
} from './policy/run-result';
import type { AdmissionDecision, CostEvent, LeaseGrant, TenantPressure } from './messages/tenant-payloads';
import type { ControlActivities, DeploymentSettings, NodeActivity, NodeTask } from './node-task';
import {
  BudgetStatusKey,
  DeliveryCostUsdKey,
  DeliveryPriorityKey,
  DeliveryStatusKey,
  TenantIdKey,
} from './search-attributes';
import {
  admissionDecisionSignal,
  leaseGrantedSignal,
  pressureChangedSignal,
  progressQuery,
  type RunLaunch,
} from './messages/delivery-run';
import {
  recordCostsSignal,
  releaseRunSignal,
  requestAdmissionSignal,
  requestLeaseSignal,
} from './messages/tenant-budget';

// ── Message API (declared in ./messages/delivery-run) ──────────────────────────────────────────
export { admissionDecisionSignal, leaseGrantedSignal, pressureChangedSignal, progressQuery, type RunLaunch };

/** Node activities not given a timeout may run this long per attempt. */
const DEFAULT_NODE_TIMEOUT_SEC = 300;
/** Node activities heartbeat every few seconds, so a dead worker is noticed after this long. */
const NODE_HEARTBEAT_TIMEOUT = '10s';

const { deploymentSettings } = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s' });

/** Why the run stopped early: a critical node failed, or the CostAgent terminated it. */
type Stop = { status: 'FAILED' | 'TERMINATED'; reason: string };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
/**
 * One delivery run: its DAG's nodes as activities on its tenant's queue, each after the CostAgent's
 * say, within the budget lease its tenant granted. Started by an ADOS client with a `launch`, an
 * admitted run begins at once and talks to its entity only to top up its lease and, at the end, to
 * give back its slot with its last costs; started bare (Temporal CLI), it first reads its worker's
 * settings and asks its tenant for admission by signal.
 */
export async function deliveryRun(input: DeliveryRunInput, launch?: RunLaunch): Promise<DeliveryRunResult> {
  const run = new DeliveryRun(input, launch);
  setHandler(progressQuery, () => run.result());
  setHandler(admissionDecisionSignal, (decision) => run.admissionDecided(decision));
  setHandler(leaseGrantedSignal, (grant) => run.leaseGranted(grant));
  setHandler(pressureChangedSignal, (update) => run.pressureChanged(update));
  try {
    return await run.deliver();
  } finally {
    // Shadows run on their own; the run only waits until their start is recorded.
    await CancellationScope.nonCancellable(() => Promise.all(run.shadows));
    // Runs recorded before export moved to the sweep started their exporter here.
    if (!launch && run.settings?.exportOnClose !== false && !patched('ados-export-by-sweep')) await startExport();
  }
}

/**
 * Starts this run's exporter as the run's last act (runs of earlier versions only). The child
 * outlives the run (ABANDON) and waits for it to close.
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

/** One run's state and steps; the workflow function above maps messages onto it. */
class DeliveryRun {
  readonly shadows: Promise<unknown>[] = [];
  settings: DeploymentSettings | undefined;
  runId: string;
  governor: RunGovernor | undefined;
  private spec: DeliveryRunSpec | undefined;
  private state: RunState | undefined;
  private plan: RunPlan | undefined;
  private status: RunStatus;
  private reason: string | undefined;
  private admission: AdmissionDecision | undefined;
  private learning: RunLearningReport | undefined;
  /** What the search attributes say now (an ADOS client sets them at start). */
  private published: { status?: RunStatus; budget?: string } = {};

  constructor(
    private readonly input: DeliveryRunInput,
    private readonly launch: RunLaunch | undefined,
  ) {
    const fromId = parseDeliveryRunWorkflowId(workflowInfo().workflowId);
    // Runs started by id alone (e.g. from the Temporal CLI) take their runId from `delivery-run:{tenant}:{run}`.
    this.runId = input.runId ?? (fromId?.tenantId === input.tenantId ? fromId.runId : undefined) ?? uuid4();
    const ticket = launch?.ticket;
    this.status = ticket ? (ticket.kind === 'ADMITTED' ? 'RUNNING' : 'REJECTED') : 'ADMITTING';
    if (launch)
      this.published = {
        status: this.status,
        ...(ticket?.kind === 'ADMITTED' ? { budget: ticket.lease.pressure.budgetStatus } : {}),
      };
  }

  /** The run's tenant entity, which every message of the run goes to. */
  private tenant() {
    return getExternalWorkflowHandle(tenantBudgetWorkflowId(this.input.tenantId));
  }

  admissionDecided(decision: AdmissionDecision): void {
    // The entity may send an answer twice (across its continue-as-new); only the first final one counts.
    if (decision.runId !== this.runId || (this.admission && this.admission.kind !== 'WAITING')) return;
    this.admission = decision;
    if (decision.kind === 'ADMITTED') this.governor?.granted(decision.lease);
  }

  leaseGranted(grant: LeaseGrant): void {
    if (grant.runId === this.runId) this.governor?.granted(grant);
  }

  pressureChanged(update: { runId: string; pressure: TenantPressure }): void {
    if (update.runId === this.runId) this.governor?.pressureChanged(update.pressure);
  }

  result(): DeliveryRunResult {
    const { status, reason, admission, learning } = this;
    const lease = this.governor?.lease;
    return {
      runId: this.runId,
      tenantId: this.input.tenantId,
      status,
      costUsd: usd(this.state?.totalCostMicros() ?? 0),
      nodes: this.state?.nodes ?? {},
      decisions: this.governor?.decisions ?? [],
      ...(reason ? { reason } : {}),
      ...(admission?.kind === 'WAITING' && status === 'WAITING' ? { queuePosition: admission.position } : {}),
      ...(lease ? { budgetStatus: lease.pressure.budgetStatus } : {}),
      ...(learning ? { learning } : {}),
      ...(this.spec?.tags ? { tags: this.spec.tags } : {}),
    };
  }

  /**
   * The run from start to end: its input checked, admission (by ticket, or asked by signal), the
   * DAG within its lease, and, whatever happened once it asked for admission, its slot given back.
   */
  async deliver(): Promise<DeliveryRunResult> {
    const spec = await this.prepare();
    const ticket = this.launch?.ticket;
    if (ticket?.kind === 'REJECTED') return this.reject(ticket.reason, this.launch?.admissionWaitMs ?? 0);
    if (ticket) this.admissionDecided(ticket);
    else if (this.admission?.kind === 'ADMITTED') this.governor!.granted(this.admission.lease);
    this.publish();
    // A run of an unknown tenant cannot even ask: it ends REJECTED with nothing to give back.
    if (!ticket && !(await this.askForAdmission(spec))) return this.result();
    const askedAt = new Date().getTime();
    try {
      if (!(await this.admitted(askedAt))) return this.result();
      return await this.runDag(spec);
    } catch (err) {
      if (isCancellation(err)) {
        this.end('CANCELLED', 'run cancelled');
        // A cancelled workflow returns nothing; its memo keeps the result for the history and the exporter.
        upsertMemo({ result: this.result() });
      }
      throw err;
    } finally {
      // Whatever happened after the request, the slot (or the place in the queue) goes back, with the last costs:
      // a run admitted by ticket through its worker (no workflow task waits for it), a run that asked by signal by signal.
      const release = { runId: this.runId, costs: this.governor!.takeUnreported() };
      if (this.launch?.ticket) releases.release({ tenantId: spec.tenantId, ...release });
      else
        await CancellationScope.nonCancellable(() => this.tenant().signal(releaseRunSignal, release)).catch((err) =>
          log.error('slot release not delivered', { error: String(err) }),
        );
    }
  }

  /**
   * The LLM prices this run estimates with, from its history: its launch, or (started bare) its
   * settings marker, with its tenant's negotiated rates over them. Runs from before prices were
   * recorded have none and use the frozen table.
   */
  private prices(): RunPrices | undefined {
    return this.plan?.runPrices;
  }

  /** Settings (from the launch, or the worker), the input checked completely, and the run's bookkeeping. */
  private async prepare(): Promise<DeliveryRunSpec> {
    const settings = this.launch?.kindsChecked ? undefined : await deploymentSettings();
    this.settings = settings;
    const validation = validateDeliveryRunInput(this.input, settings ? new Set(settings.nodeKinds) : undefined);
    if (!validation.ok) {
      throw ApplicationFailure.create({
        type: 'InvalidDeliveryInput',
        message: `invalid deliveryRun input: ${validation.problems.join('; ')}`,
        nonRetryable: true,
        details: [{ problems: validation.problems }],
      });
    }
    const spec = (this.spec = validation.spec);
    this.state = new RunState(spec);
    this.plan = new RunPlan(this.state, this.launch?.prices ?? settings?.prices);
    this.governor = new RunGovernor(this.state, this.plan, (action) => metrics.decision(action));
    return spec;
  }

  /** Asks the tenant for a slot and a first lease covering the run's estimated cost; false if the tenant does not exist. */
  private async askForAdmission(spec: DeliveryRunSpec): Promise<boolean> {
    try {
      await this.tenant().signal(requestAdmissionSignal, {
        runId: this.runId,
        workflowId: workflowInfo().workflowId,
        priority: spec.priority,
        estimatedMicros: this.plan!.remainingMicros(),
        p95Micros: quoteMicros(this.plan!).p95,
      });
      return true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.end('REJECTED', `unknown tenant ${spec.tenantId}: create it first (ados tenant set ${spec.tenantId})`);
      return false;
    }
  }

  /** Waits for the answer to the admission asked by signal (a ticket is the answer already); false when REJECTED. */
  private async admitted(askedAt: number): Promise<boolean> {
    if (this.launch?.ticket) {
      metrics.admission('ADMITTED', this.launch.admissionWaitMs ?? 0);
      return true;
    }
    await condition(() => this.admission !== undefined);
    if (this.admission?.kind === 'WAITING') {
      this.publish('WAITING');
      await condition(() => this.admission?.kind !== 'WAITING');
    }
    metrics.admission(this.admission!.kind, new Date().getTime() - askedAt);
    if (this.admission?.kind !== 'REJECTED') return true;
    this.end('REJECTED', this.admission.reason);
    return false;
  }

  /** The admitted run: its nodes on the tenant's queue, then its final status. */
  private async runDag(spec: DeliveryRunSpec): Promise<DeliveryRunResult> {
    const admitted = this.admission as Extract<AdmissionDecision, { kind: 'ADMITTED' }>;
    const taskQueue = nodeTaskQueue({
      tenantId: spec.tenantId,
      partitions: this.settings?.nodePartitions ?? this.launch!.nodePartitions,
      dedicatedQueue: admitted.dedicatedQueue,
    });
    // What the tenant has learned: its cost model for the estimates, proven cheaper models for the plan.
    if (admitted.learning)
      this.learning = { explore: admitted.learning.explore, choices: this.plan!.learn(admitted.learning) };
    this.publish('RUNNING');
    const stop = await runNodes(this.state!, this.plan!, {
      taskQueue,
      runId: this.runId,
      tenantId: spec.tenantId,
      authorize: (node) => this.authorize(node),
      charge: (node, event) => this.charge(node, event),
      explore: (node, task, outcome) => this.explore(node, task, outcome, taskQueue),
      onChange: () => this.publish(this.status, { details: false }),
      renderDetails: () => this.renderDetails(),
    });
    if (stop?.status === 'FAILED') {
      this.reason = stop.reason;
      this.publish('FAILED');
      throw ApplicationFailure.create({
        type: 'CriticalNodeFailed',
        message: stop.reason,
        nonRetryable: true,
        details: [this.result()],
      });
    }
    if (stop?.status === 'TERMINATED') {
      this.reason = stop.reason;
      this.publish('TERMINATED');
      return this.result();
    }
    this.publish(Object.values(this.state!.nodes).some((n) => n.degraded) ? 'DEGRADED' : 'COMPLETED');
    return this.result();
  }

  /** The run ends before or instead of its nodes: every node not finished is closed with the reason. */
  private end(status: 'REJECTED' | 'CANCELLED', reason: string): void {
    this.reason = reason;
    this.state!.closeUnfinished(reason, new Date().toISOString());
    this.publish(status);
  }

  /** A ticket said REJECTED before the run started: nothing was admitted, so nothing is released. */
  private reject(reason: string, waitMs: number): DeliveryRunResult {
    metrics.admission('REJECTED', waitMs);
    this.end('REJECTED', reason);
    return this.result();
  }

  /**
   * The CostAgent's say before a node starts: whether the node may start, or why the run stops.
   * Decided at once while the lease covers the node (no promise, no await: the common case costs
   * the workflow nothing but the decision); a short lease is topped up first.
   */
  private authorize(node: DagNode): Verdict | Promise<Verdict> {
    const gate = this.governor!.gate(node, new Date().toISOString());
    return gate.kind === 'short' ? this.topUpThenDecide(node, gate) : verdictOf(gate);
  }

  private async topUpThenDecide(node: DagNode, short: Extract<Gate, { kind: 'short' }>): Promise<Verdict> {
    const governor = this.governor!;
    // Nodes still in flight may finish during the round trip and overdraw the new lease again
    // (a cost above its estimate); ask again while the entity keeps granting what is asked.
    for (let asks = 0; asks < 3 && short.neededMicros > governor.available(); asks++) {
      const before = governor.grantedMicros();
      const request = governor.leaseRequest(this.runId);
      await CancellationScope.nonCancellable(() => this.tenant().signal(requestLeaseSignal, request));
      await condition(() => governor.hasAnswer(request.seq));
      if (governor.grantedMicros() - before < request.requestMicros) break;
    }
    return verdictOf(governor.afterTopUp(node, short, new Date().toISOString()));
  }

  /** A node ended: its cost waits to be reported; a full batch is sent now, and the node is done once it is delivered. */
  private charge(node: DagNode, event?: CostEvent): Promise<void> | undefined {
    if (event && event.costMicros > 0) metrics.spent(this.input.tenantId, event.category, usd(event.costMicros));
    const batch = this.governor!.nodeEnded(node.id, event);
    // Sent even while the run is being cancelled: the money was spent.
    return batch
      ? CancellationScope.nonCancellable(() =>
          this.tenant().signal(recordCostsSignal, {
            events: batch,
          }),
        )
      : undefined;
  }

  /** On an exploring run, the first LLM node with a cheaper model is run again in shadow. */
  private explore(node: DagNode, task: NodeTask, outcome: NodeOutcome, taskQueue: string): void {
    const { learning, spec, runId } = this;
    const fromModel = task.model;
    const toModel = fromModel ? cheaperModel(fromModel, this.prices()) : undefined;
    if (!learning?.explore || learning.shadow || node.kind !== 'llm.generate' || !fromModel || !toModel || !spec)
      return;
    const workflowId = `shadow-exploration:${spec.tenantId}:${runId}:${node.id}`;
    learning.shadow = { nodeId: node.id, workflowId, fromModel, toModel };
    const catalogFull = catalogEstimateMicros(node.kind, { params: task.params, model: fromModel }, this.prices());
    const catalogShadow = catalogEstimateMicros(node.kind, { params: task.params, model: toModel }, this.prices());
    const reference = spec.dag.nodes.find((n) => n.kind === 'eval.score' && typeof n.params.reference === 'string')
      ?.params.reference as string | undefined;
    const estimateMicros =
      catalogFull > 0 ? Math.round((outcome.costMicros * catalogShadow) / catalogFull) : catalogShadow;
    this.shadows.push(
      // Not cancellable: once asked for, the shadow belongs to the tenant's learning, not to this run.
      CancellationScope.nonCancellable(() =>
        startChild(shadowExploration, {
          workflowId,
          args: [
            {
              tenantId: spec.tenantId,
              runId,
              nodeId: node.id,
              taskQueue,
              task,
              realOutput: outcome.output,
              realCostMicros: outcome.costMicros,
              fromModel,
              toModel,
              estimateMicros,
              ...(reference ? { reference } : {}),
              ...(this.prices() ? { rates: this.prices()!.models } : {}),
              ...(this.plan!.negotiatedRate(toModel) ? { toModelRate: this.plan!.negotiatedRate(toModel) } : {}),
            },
          ],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `shadow of ${node.id} in run ${runId} (${spec.tenantId}): ${fromModel} → ${toModel}`,
        }),
      ).catch((err) => log.warn('shadow exploration not started', { nodeId: node.id, error: String(err) })),
    );
  }

  /** Search attributes when the status or budget status changed; the node table in the Web UI's current details. */
  private publish(next: RunStatus = this.status, { details = true } = {}): void {
    const state = this.state!;
    if (next !== this.status && FINAL_RUN_STATUSES.includes(next)) metrics.runEnded(this.input.tenantId, next);
    this.status = next;
    const budget = this.governor?.lease?.pressure.budgetStatus;
    if (this.published.status !== next || this.published.budget !== budget) {
      upsertSearchAttributes([
        { key: TenantIdKey, value: this.input.tenantId },
        { key: DeliveryPriorityKey, value: this.spec!.priority },
        { key: DeliveryStatusKey, value: next },
        { key: DeliveryCostUsdKey, value: usd(state.totalCostMicros()) },
        ...(budget ? [{ key: BudgetStatusKey, value: budget }] : []),
      ]);
      this.published = { status: next, ...(budget ? { budget } : {}) };
    }
    if (details) this.renderDetails();
  }

  private renderDetails(): void {
    setCurrentDetails(this.state!.detailsMarkdown(this.status, this.governor?.decisions));
  }
}

/** The gate's word on a node: start it, skip it (a DEGRADE plan did), or stop the run. */
type Verdict = boolean | Stop;

function verdictOf(gate: Gate): Verdict {
  if (gate.kind === 'stop') return { status: 'TERMINATED', reason: gate.reason };
  return gate.kind === 'start';
}

interface RunNodesOptions {
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
async function runNodes(
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
              key: `${runId}/${node.id}`,
              runId,
              nodeId: node.id,
              category: outcome.category,
              costMicros: outcome.costMicros,
              // What the tenant's cost model learns from: the kind, the model, and the catalog's price of the variant that ran.
              kind: node.kind,
              ...((outcome.model ?? variant.model) ? { model: outcome.model ?? variant.model } : {}),
              estimateMicros: plan.catalogMicros(node.kind, variant),
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
