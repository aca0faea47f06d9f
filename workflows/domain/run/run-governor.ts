/** The run governor: a run's budget lease, node by node, and its cost batches. */
import type { CostEvent, LeaseGrant, LeaseRequest, TenantPressure } from '../tenant/entity-payloads';
import type { DagNode } from './dag';
import { decideCost, type CostAction, type CostVerdict } from './cost-agent';
import type { RunPlan } from './run-plan';
import type { RunState } from './run-state';
import type { CostDecision } from './run-result';
import { formatUsd, usd } from '../pricing/catalog';
import { quoteMicros } from '../prediction/quote';

/** Costs go to the entity in batches this large (and with every lease request and the release). */
export const COST_BATCH = 16;

/** What the gate says about a node that is ready to start. */
export type Gate =
  | { kind: 'start' }
  /** A DEGRADE plan skipped it. */
  | { kind: 'skip' }
  /** The CostAgent ended the run. */
  | { kind: 'stop'; reason: string }
  /** The lease does not cover the node: ask the entity for more (`leaseRequest`), then call `afterTopUp`. */
  | { kind: 'short'; neededMicros: number; verdict: CostVerdict; nodesDone: number };

/**
 * One run's side of the budget, free of Temporal calls: the lease the entity granted, the
 * estimates of nodes in flight, the costs not yet reported, and the CostAgent's gate before each
 * node with every decision recorded. The workflow sends what this class asks it to send and feeds
 * back what the entity answers.
 */
export class RunGovernor {
  readonly decisions: CostDecision[] = [];
  lease: LeaseGrant | undefined;
  private unreported: CostEvent[] = [];
  private readonly inFlight = new Map<string, number>();
  private leaseSeq = 0;

  constructor(
    private readonly run: RunState,
    private readonly plan: RunPlan,
    private readonly onDecision: (action: CostAction) => void = () => undefined,
  ) {}

  // ── The lease ──
  /** A grant from the entity; an older answer than the one in hand is ignored. */
  granted(grant: LeaseGrant): void {
    if (!this.lease || grant.seq >= this.lease.seq) this.lease = grant;
    this.plan.negotiate(this.lease.pressure.negotiatedRates);
  }

  /** Newer pressure for the next decision; the money granted so far stays authorised. */
  pressureChanged(pressure: TenantPressure): void {
    if (this.lease) this.lease = { ...this.lease, pressure };
    this.plan.negotiate(pressure.negotiatedRates);
  }

  grantedMicros(): number {
    return this.lease?.grantedMicros ?? 0;
  }

  /** Estimates of the nodes in flight: authorised, not yet charged. */
  inFlightMicros(): number {
    let sum = 0;
    for (const micros of this.inFlight.values()) sum += micros;
    return sum;
  }

  /** Money of the lease neither spent nor held by a node in flight. */
  available(): number {
    return this.grantedMicros() - this.run.totalCostMicros() - this.inFlightMicros();
  }

  /** The next top-up: what the rest of the run needs beyond what is available, with the costs to report. */
  leaseRequest(runId: string): LeaseRequest {
    // A tenant that leases at p95 has its runs ask for the 95th percentile of what is left.
    const wanted = this.lease?.pressure.leaseAt === 'p95' ? quoteMicros(this.plan).p95 : this.plan.remainingMicros();
    return {
      runId,
      seq: ++this.leaseSeq,
      requestMicros: wanted - this.available(),
      estRemainingMicros: this.plan.remainingMicros(),
      costs: this.takeUnreported(),
    };
  }

  /** Whether the answer to top-up `seq` (or a later one) has arrived. */
  hasAnswer(seq: number): boolean {
    return (this.lease?.seq ?? 0) >= seq;
  }

  // ── The gate ──
  /** The CostAgent's say before a node starts, recorded with what it saw. */
  gate(node: DagNode, now: string): Gate {
    // A DEGRADE plan made earlier in this pass may have skipped it.
    if (this.run.nodes[node.id]!.status !== 'PENDING') return { kind: 'skip' };
    const nodesDone = this.nodesDone();
    const verdict = decideCost({
      pressure: this.lease!.pressure,
      unreportedMicros: this.unreported.reduce((sum, e) => sum + e.costMicros, 0),
      remainingFullMicros: this.plan.remainingMicros(),
      remainingDegradedMicros: this.plan.remainingDegradedMicros(),
      nodesDone,
      nodesTotal: this.run.spec.dag.nodes.length,
      alreadyDegraded: this.plan.degraded,
      estimateConfidence: this.plan.remainingConfidence(),
    });
    if (verdict.action === 'TERMINATE') {
      this.record(node, verdict, now, nodesDone);
      return { kind: 'stop', reason: verdict.reason };
    }
    if (verdict.action === 'DEGRADE') this.record(node, verdict, now, nodesDone, { plan: this.plan.degrade() });
    else this.record(node, verdict, now, nodesDone);
    if (this.run.nodes[node.id]!.status === 'SKIPPED') return { kind: 'skip' };
    const neededMicros = this.plan.estimate(node);
    if (neededMicros > this.available()) return { kind: 'short', neededMicros, verdict, nodesDone };
    this.inFlight.set(node.id, neededMicros);
    return { kind: 'start' };
  }

  /** After asking for more: start the node if the lease now covers it, else degrade the run, else stop it. */
  afterTopUp(node: DagNode, short: Extract<Gate, { kind: 'short' }>, now: string): Gate {
    let needed = short.neededMicros;
    const { nodesDone } = short;
    if (needed > this.available() && !this.plan.degraded) {
      const plan = this.plan.degrade();
      this.record(
        node,
        {
          ...short.verdict,
          action: 'DEGRADE',
          reason: `the lease could not cover ${node.id}; degrading the rest of the run`,
        },
        now,
        nodesDone,
        { plan },
      );
      if (this.run.nodes[node.id]!.status === 'SKIPPED') return { kind: 'skip' };
      needed = this.plan.estimate(node);
    }
    if (needed > this.available()) {
      const reason = `no budget left to authorise node ${node.id}: it needs ${formatUsd(needed)}, ${formatUsd(Math.max(0, this.available()))} is available`;
      this.record(node, { ...short.verdict, action: 'TERMINATE', reason }, now, nodesDone);
      return { kind: 'stop', reason };
    }
    this.inFlight.set(node.id, needed);
    return { kind: 'start' };
  }

  // ── Costs ──
  /**
   * A node ended: its estimate leaves the lease, and its actual cost (if it completed) waits to be
   * reported. Returns a batch to send now once enough costs have gathered.
   */
  nodeEnded(nodeId: string, event?: CostEvent): CostEvent[] | undefined {
    this.inFlight.delete(nodeId);
    if (event && event.costMicros > 0) this.unreported.push(event);
    return this.unreported.length >= COST_BATCH ? this.takeUnreported() : undefined;
  }

  /** Costs not yet reported, handed over to be sent (each idempotent on its key). */
  takeUnreported(): CostEvent[] {
    const batch = this.unreported;
    this.unreported = [];
    return batch;
  }

  private nodesDone(): number {
    let done = 0;
    for (const n of Object.values(this.run.nodes)) if (n.status !== 'PENDING' && n.status !== 'RUNNING') done++;
    return done;
  }

  private record(
    node: DagNode,
    verdict: CostVerdict,
    now: string,
    nodesDone: number,
    extra: Partial<CostDecision> = {},
  ): void {
    this.onDecision(verdict.action);
    this.decisions.push({
      ...verdict,
      nodeId: node.id,
      at: now,
      nodeEstimateUsd: usd(this.plan.estimate(node)),
      leaseAvailableUsd: usd(this.available()),
      runProjectedUsd: usd(this.run.totalCostMicros() + this.inFlightMicros() + this.plan.remainingMicros()),
      nodesDone,
      ...extra,
    });
  }
}
