/** A delivery run's state and steps. */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { metrics } from '../ports/metrics-sink';
import { releases } from '../ports/release-sink';
import { shadowExploration } from '../shadow-exploration';
import { usd, type RunPrices } from '../domain/pricing/catalog';
import type { DagNode, DeliveryRunSpec } from '../domain/run/dag';
import { shadowExplorationWorkflowId, tenantBudgetWorkflowId } from '../domain/ids';
import { nodeTaskQueue } from '../domain/run/routing';
import { RunGovernor, type Gate } from '../domain/run/run-governor';
import { RunPlan } from '../domain/run/run-plan';
import { quoteMicros } from '../domain/prediction/quote';
import { RunState, type NodeOutcome } from '../domain/run/run-state';
import {
  FINAL_RUN_STATUSES,
  type DeliveryRunResult,
  type RunLearningReport,
  type RunStatus,
} from '../domain/run/run-result';
import type {
  AdmissionDecision,
  CostEvent,
  LeaseGrant,
  LeaseRequest,
  TenantPressure,
} from '../domain/tenant/entity-payloads';
import type { RunLaunch } from '../messages/delivery-run';
import type { NodeTask } from '../ports/activities';
import {
  recordCostsSignal,
  releaseRunSignal,
  requestAdmissionSignal,
  requestLeaseSignal,
} from '../messages/tenant-budget';
import { runNodes, verdictOf, type Verdict } from './node-scheduler';
import type { RunStart } from './run-start';
import { shadowInput } from './shadow-input';
import { runSearchAttributes } from '../ports/search-attributes';

/**
 * One run's state and steps, built once its input is valid; the deliveryRun workflow maps its
 * messages onto it. Its rules (the CostAgent, leases, the plan, the node bookkeeping) live in pure
 * modules under workflows/domain/; this class holds what needs Temporal: messages, activities, children,
 * search attributes and the Web UI's details.
 */
export class DeliveryRun {
  readonly shadows: Promise<unknown>[] = [];
  readonly runId: string;
  private readonly spec: DeliveryRunSpec;
  private readonly launch: RunLaunch | undefined;
  private readonly nodePartitions: number;
  private readonly state: RunState;
  private readonly plan: RunPlan;
  private readonly governor: RunGovernor;
  private status: RunStatus;
  private reason: string | undefined;
  private admission: AdmissionDecision | undefined;
  private learning: RunLearningReport | undefined;
  /** Nodes not yet ended, and scheduled, when the run last told its worker (the autoscaling signal). */
  private reportedWork = { remaining: -1, scheduled: -1 };
  /** What the search attributes say now (an ADOS starter sets them at start). */
  private published: { status?: RunStatus; budget?: string } = {};

  constructor({ spec, launch, settings, nodePartitions }: RunStart, startedWithLaunch: boolean) {
    this.spec = spec;
    this.runId = spec.runId;
    this.launch = launch;
    this.nodePartitions = nodePartitions;
    this.state = new RunState(spec);
    this.plan = new RunPlan(this.state, launch?.prices ?? settings?.prices, launch?.promptBases);
    this.governor = new RunGovernor(this.state, this.plan, (action) => metrics.decision(action));
    const ticket = launch?.ticket;
    this.status = !ticket ? 'ADMITTING' : ticket.kind === 'ADMITTED' ? 'RUNNING' : ticket.kind;
    // A starter sets the first search attributes with the start; a run launched by its worker sets them itself.
    if (startedWithLaunch)
      this.published = {
        status: this.status,
        ...(ticket?.kind === 'ADMITTED' ? { budget: ticket.lease.pressure.budgetStatus } : {}),
      };
  }

  /** The run's tenant entity, which every message of the run goes to. */
  private tenant() {
    return getExternalWorkflowHandle(tenantBudgetWorkflowId(this.spec.tenantId));
  }

  admissionDecided(decision: AdmissionDecision): void {
    // The entity may send an answer twice (across its continue-as-new); only the first final one counts.
    if (decision.runId !== this.runId || (this.admission && this.admission.kind !== 'WAITING')) return;
    this.admission = decision;
    if (decision.kind === 'ADMITTED') this.governor.granted(decision.lease);
  }

  leaseGranted(grant: LeaseGrant): void {
    if (grant.runId === this.runId) this.governor.granted(grant);
  }

  pressureChanged(update: { runId: string; pressure: TenantPressure }): void {
    if (update.runId === this.runId) this.governor.pressureChanged(update.pressure);
  }

  result(): DeliveryRunResult {
    const { status, reason, admission, learning } = this;
    const lease = this.governor.lease;
    return {
      runId: this.runId,
      tenantId: this.spec.tenantId,
      status,
      costUsd: usd(this.state.totalCostMicros()),
      nodes: this.state.nodes,
      decisions: this.governor.decisions,
      ...(reason ? { reason } : {}),
      ...(admission?.kind === 'WAITING' && status === 'WAITING' ? { queuePosition: admission.position } : {}),
      ...(lease ? { budgetStatus: lease.pressure.budgetStatus } : {}),
      ...(learning ? { learning } : {}),
      ...(this.spec.tags ? { tags: this.spec.tags } : {}),
    };
  }

  /**
   * Admission (by ticket, or asked by signal), then the DAG within its lease; and, whatever
   * happened once it held a slot or a place in the queue, the slot given back with the last costs.
   */
  async deliver(): Promise<DeliveryRunResult> {
    const ticket = this.launch?.ticket;
    if (ticket?.kind === 'REJECTED') return this.reject(ticket.reason, this.launch?.admissionWaitMs ?? 0);
    if (ticket) this.admissionDecided(ticket);
    this.publish();
    // A run of an unknown tenant cannot even ask: it ends REJECTED with nothing to give back.
    if (!ticket && !(await this.askForAdmission())) return this.result();
    const askedAt = new Date().getTime();
    try {
      if (!(await this.admitted(askedAt))) return this.result();
      return await this.runDag();
    } catch (err) {
      if (isCancellation(err)) {
        this.end('CANCELLED', 'run cancelled');
        // A cancelled workflow returns nothing; its memo keeps the result for the history and the exporter.
        upsertMemo({ result: this.result() });
      }
      throw err;
    } finally {
      // The slot (or the place in the queue) goes back with the last costs: a run whose launch
      // holds its ticket (admitted, or queued) through its worker (no workflow task waits for it),
      // a run that asked by signal by signal.
      const release = { runId: this.runId, costs: this.governor.takeUnreported() };
      if (ticket) {
        const block = ticket.kind === 'ADMITTED' ? ticket.block : undefined;
        releases.release({ tenantId: this.spec.tenantId, ...release, ...(block ? { block } : {}) });
      } else
        await CancellationScope.nonCancellable(() => this.tenant().signal(releaseRunSignal, release)).catch((err) =>
          log.error('slot release not delivered', { error: String(err) }),
        );
    }
  }

  /** The LLM prices this run estimates with (from its history), with its tenant's negotiated rates over them. */
  private prices(): RunPrices | undefined {
    return this.plan.runPrices;
  }

  /** Asks the tenant for a slot and a first lease covering the run's estimated cost; false if the tenant does not exist. */
  private async askForAdmission(): Promise<boolean> {
    try {
      await this.tenant().signal(requestAdmissionSignal, this.admissionRequest());
      return true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const { tenantId } = this.spec;
      this.end('REJECTED', `unknown tenant ${tenantId}: create it first (ados tenant set ${tenantId})`);
      return false;
    }
  }

  private admissionRequest() {
    return {
      runId: this.runId,
      workflowId: workflowInfo().workflowId,
      priority: this.spec.priority,
      estimatedMicros: this.plan.remainingMicros(),
      p95Micros: quoteMicros(this.plan).p95,
      startedAt: workflowInfo().startTime.toISOString(),
    };
  }

  /**
   * Waits for the answer to the admission asked by signal, or to the place its launch took in the
   * queue (an ADMITTED ticket is the answer already); false when REJECTED.
   */
  private async admitted(askedAt: number): Promise<boolean> {
    if (this.launch?.ticket?.kind === 'ADMITTED') {
      metrics.admission('ADMITTED', this.launch.admissionWaitMs ?? 0);
      return true;
    }
    const decision = await this.decision();
    metrics.admission(decision.kind, new Date().getTime() - askedAt);
    if (decision.kind !== 'REJECTED') return true;
    this.end('REJECTED', decision.reason);
    return false;
  }

  /** The entity's final answer to the admission asked by signal; the run shows WAITING meanwhile. */
  private async decision(): Promise<Exclude<AdmissionDecision, { kind: 'WAITING' }>> {
    // After a forced failover the entity's copy may lack the request this run's copy says it sent
    // (replication is per workflow): with no answer at all, the run asks again, less and less often.
    // The entity answers a repeated request as it answered the first.
    if (this.admission === undefined && patched('ados-ask-again'))
      await untilAnswered(
        () => this.admission !== undefined,
        () => this.tenant().signal(requestAdmissionSignal, this.admissionRequest()),
      );
    await condition(() => this.admission !== undefined);
    if (this.admission?.kind === 'WAITING') {
      this.publish('WAITING');
      await condition(() => this.admission?.kind !== 'WAITING');
    }
    const answer = this.admission;
    // The conditions above returned only once an answer other than WAITING had come.
    if (!answer || answer.kind === 'WAITING') throw new Error('admission decision missing');
    return answer;
  }

  /** The admitted run: its nodes on the tenant's queue, then its final status. */
  private async runDag(): Promise<DeliveryRunResult> {
    const admitted = this.admission as Extract<AdmissionDecision, { kind: 'ADMITTED' }>;
    const { spec, state, plan } = this;
    const taskQueue = nodeTaskQueue({
      tenantId: spec.tenantId,
      partitions: this.nodePartitions,
      dedicatedQueue: admitted.dedicatedQueue,
    });
    // What the tenant has learned: its cost model for the estimates, proven cheaper models for the plan.
    if (admitted.learning)
      this.learning = { explore: admitted.learning.explore, choices: plan.learn(admitted.learning) };
    this.publish('RUNNING');
    this.reportWork(taskQueue);
    // The run's remaining work goes to zero however the nodes end (a failure, a stop, a cancellation).
    const stop = await runNodes(state, plan, {
      taskQueue,
      runId: this.runId,
      tenantId: spec.tenantId,
      authorize: (node) => this.authorize(node),
      charge: (node, event) => this.charge(node, event),
      explore: (node, task, outcome) => {
        if (outcome.durationMs !== undefined) metrics.nodeRan(node.kind, outcome.durationMs);
        this.explore(node, task, outcome, taskQueue);
      },
      onChange: () => {
        this.publish(this.status, { details: false });
        this.reportWork(taskQueue);
      },
      renderDetails: () => this.renderDetails(),
    }).finally(() => metrics.work(taskQueue, {}, 0));
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
    this.publish(Object.values(state.nodes).some((n) => n.degraded) ? 'DEGRADED' : 'COMPLETED');
    return this.result();
  }

  /** Tells the worker what the run still has to run on its node queue, when that changed (autoscalers follow it). */
  private reportWork(taskQueue: string): void {
    const { kinds, count, running } = this.state.remainingByKind();
    if (count === this.reportedWork.remaining && running === this.reportedWork.scheduled) return;
    this.reportedWork = { remaining: count, scheduled: running };
    metrics.work(taskQueue, kinds, running);
  }

  /** The run ends before or instead of its nodes: every node not finished is closed with the reason. */
  private end(status: 'REJECTED' | 'CANCELLED', reason: string): void {
    this.reason = reason;
    this.state.closeUnfinished(reason, new Date().toISOString());
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
    const gate = this.governor.gate(node, new Date().toISOString());
    return gate.kind === 'short' ? this.topUpThenDecide(node, gate) : verdictOf(gate);
  }

  /** A run admitted from a starter's block names it, with what its starter would report of it. */
  private withBlock(leaseRequest: LeaseRequest): LeaseRequest {
    // The run names itself, so that an entity that lost its admission with a region still answers it.
    const request = { ...leaseRequest, workflowId: workflowInfo().workflowId, priority: this.spec.priority };
    const ticket = this.launch?.ticket;
    if (ticket?.kind !== 'ADMITTED' || !ticket.block) return request;
    return {
      ...request,
      block: {
        ...ticket.block,
        workflowId: workflowInfo().workflowId,
        priority: this.spec.priority,
        estimatedMicros: request.estRemainingMicros,
      },
    };
  }

  private async topUpThenDecide(node: DagNode, short: Extract<Gate, { kind: 'short' }>): Promise<Verdict> {
    const { governor } = this;
    // Nodes still in flight may finish during the round trip and overdraw the new lease again
    // (a cost above its estimate); ask again while the entity keeps granting what is asked.
    for (let asks = 0; asks < 3 && short.neededMicros > governor.available(); asks++) {
      const before = governor.grantedMicros();
      const request = this.withBlock(governor.leaseRequest(this.runId));
      const ask = () => CancellationScope.nonCancellable(() => this.tenant().signal(requestLeaseSignal, request));
      await ask();
      // As for admission: a request lost with a region is asked again (the entity grants each seq once).
      if (!governor.hasAnswer(request.seq) && patched('ados-ask-again'))
        await untilAnswered(() => governor.hasAnswer(request.seq), ask);
      await condition(() => governor.hasAnswer(request.seq));
      if (governor.grantedMicros() - before < request.requestMicros) break;
    }
    return verdictOf(governor.afterTopUp(node, short, new Date().toISOString()));
  }

  /** A node ended: its cost waits to be reported; a full batch is sent now, and the node is done once it is delivered. */
  private charge(node: DagNode, event?: CostEvent): Promise<void> | undefined {
    if (event && event.costMicros > 0) metrics.spent(this.spec.tenantId, event.category, usd(event.costMicros));
    const batch = this.governor.nodeEnded(node.id, event);
    // Sent even while the run is being cancelled: the money was spent.
    return batch
      ? CancellationScope.nonCancellable(() => this.tenant().signal(recordCostsSignal, { events: batch }))
      : undefined;
  }

  /** On an exploring run, the first LLM node with a cheaper model is run again in shadow. */
  private explore(node: DagNode, task: NodeTask, outcome: NodeOutcome, taskQueue: string): void {
    const { learning, spec, runId } = this;
    if (!learning?.explore || learning.shadow || node.kind !== 'llm.generate') return;
    const input = shadowInput({
      spec,
      runId,
      node,
      task,
      outcome,
      taskQueue,
      prices: this.prices(),
      rateFor: (model) => this.plan.negotiatedRate(model),
    });
    if (!input) return;
    const { fromModel, toModel } = input;
    const workflowId = shadowExplorationWorkflowId(spec.tenantId, runId, node.id);
    learning.shadow = { nodeId: node.id, workflowId, fromModel, toModel };
    this.shadows.push(
      // Not cancellable: once asked for, the shadow belongs to the tenant's learning, not to this run.
      CancellationScope.nonCancellable(() =>
        startChild(shadowExploration, {
          workflowId,
          args: [input],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `shadow of ${node.id} in run ${runId} (${spec.tenantId}): ${fromModel} → ${toModel}`,
        }),
      ).catch((err) => log.warn('shadow exploration not started', { nodeId: node.id, error: String(err) })),
    );
  }

  /** Search attributes when the status or budget status changed; the node table in the Web UI's current details. */
  private publish(next: RunStatus = this.status, { details = true } = {}): void {
    if (next !== this.status && FINAL_RUN_STATUSES.includes(next)) metrics.runEnded(this.spec.tenantId, next);
    this.status = next;
    const budget = this.governor.lease?.pressure.budgetStatus;
    if (this.published.status !== next || this.published.budget !== budget) {
      const { tenantId, priority } = this.spec;
      const costUsd = usd(this.state.totalCostMicros());
      upsertSearchAttributes(runSearchAttributes({ tenantId, priority, status: next, costUsd, budgetStatus: budget }));
      this.published = { status: next, ...(budget ? { budget } : {}) };
    }
    if (details) this.renderDetails();
  }

  private renderDetails(): void {
    setCurrentDetails(this.state.detailsMarkdown(this.status, this.governor.decisions));
  }
}

/** The first wait before a request to the tenant's entity is sent again, then doubled up to ASK_AGAIN_MAX_MS. */
const ASK_AGAIN_FIRST_MS = 30_000;
const ASK_AGAIN_MAX_MS = 300_000;

/** Waits until `answered`, sending the request again (`ask`) after 30 s, 60 s, … then every 5 minutes. */
async function untilAnswered(answered: () => boolean, ask: () => Promise<void>): Promise<void> {
  for (let wait = ASK_AGAIN_FIRST_MS; !(await condition(answered, wait)); wait = Math.min(2 * wait, ASK_AGAIN_MAX_MS)) {
    log.warn('no answer from the tenant; asking again', { afterMs: wait });
    await ask();
  }
}
