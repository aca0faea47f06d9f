/** A run's state: each node's outcome, and its cost events. */
import { nodeChargeKey } from './charge-key';
import type { DagNode, DeliveryRunSpec } from './dag';
import type { CostCategory } from '../pricing/catalog';
import type { DeliveryRunResult, NodeResult, RunStatus, CostDecision } from './run-result';
import type { CostEvent, ChargePricing } from '../tenant/entity-payloads';
import { formatUsd, toMicros, usd } from '../pricing/catalog';

/** What a finished node activity reports back. */
export interface NodeOutcome {
  output: unknown;
  costMicros: number;
  category: CostCategory;
  attempt: number;
  model?: string;
  /** For an LLM charge: what priced it. */
  pricing?: ChargePricing;
  /** How long the attempt ran where it ran, ms (absent in histories recorded before it was reported). */
  durationMs?: number;
  /** The execution's own id, which its charge is keyed by (absent in histories recorded before it was reported). */
  executionId?: string;
}

/**
 * The run's DAG bookkeeping, free of Temporal calls: which nodes are ready, in which order, and
 * how each ended. Costs are kept in micro-dollars so the run total is exactly the sum of its nodes.
 */
export class RunState {
  readonly nodes: Record<string, NodeResult> = {};
  readonly outputs: Record<string, unknown> = {};
  readonly costMicros: Record<string, number> = {};
  private readonly order: Map<string, number>;

  constructor(readonly spec: DeliveryRunSpec) {
    this.order = new Map(spec.dag.nodes.map((node, index) => [node.id, index]));
    for (const node of spec.dag.nodes) this.nodes[node.id] = { status: 'PENDING', costUsd: 0, attempts: 0 };
  }

  node(id: string): DagNode {
    const node = this.spec.dag.nodes[this.order.get(id) ?? -1];
    if (!node) throw new Error(`unknown node ${id}`);
    return node;
  }

  effectivePriority(node: DagNode): number {
    return node.priority ?? this.spec.priority;
  }

  /**
   * A dependency lets its dependents run once it completed, or once it ended without being
   * critical and its own dependencies are satisfied: a node skipped early by a DEGRADE plan
   * still holds its dependents back until the data it would have passed on exists.
   */
  private depSatisfied(depId: string): boolean {
    const dep = this.nodes[depId];
    if (!dep) return false;
    if (dep.status === 'COMPLETED') return true;
    const node = this.node(depId);
    return (
      (dep.status === 'FAILED' || dep.status === 'SKIPPED') &&
      !node.critical &&
      node.deps.every((d) => this.depSatisfied(d))
    );
  }

  /** Pending nodes whose dependencies are satisfied: node priority first, then declaration order. */
  readyNodes(): DagNode[] {
    return this.spec.dag.nodes
      .filter((node) => this.nodes[node.id]!.status === 'PENDING' && node.deps.every((d) => this.depSatisfied(d)))
      .sort(
        (a, b) =>
          this.effectivePriority(a) - this.effectivePriority(b) || this.order.get(a.id)! - this.order.get(b.id)!,
      );
  }

  running(): string[] {
    return Object.keys(this.nodes).filter((id) => this.nodes[id]!.status === 'RUNNING');
  }

  /** The nodes not yet ended (pending or running), counted by kind, and how many of them are running (scheduled). */
  remainingByKind(): { kinds: Record<string, number>; count: number; running: number } {
    const kinds: Record<string, number> = {};
    let count = 0;
    let running = 0;
    for (const node of this.spec.dag.nodes) {
      const status = this.nodes[node.id]!.status;
      if (status !== 'PENDING' && status !== 'RUNNING') continue;
      kinds[node.kind] = (kinds[node.kind] ?? 0) + 1;
      count++;
      if (status === 'RUNNING') running++;
    }
    return { kinds, count, running };
  }

  markRunning(id: string, at: string, model?: string): void {
    Object.assign(this.nodes[id]!, { status: 'RUNNING', startedAt: at, ...(model ? { model } : {}) });
  }

  markCompleted(id: string, outcome: NodeOutcome, at: string): void {
    this.outputs[id] = outcome.output;
    this.costMicros[id] = outcome.costMicros;
    Object.assign(this.nodes[id]!, {
      status: 'COMPLETED',
      costUsd: usd(outcome.costMicros),
      attempts: outcome.attempt,
      category: outcome.category,
      endedAt: at,
      ...(outcome.model ? { model: outcome.model } : {}),
      ...(outcome.executionId ? { executionId: outcome.executionId } : {}),
    });
  }

  markFailed(id: string, error: string, attempts: number, at: string): void {
    Object.assign(this.nodes[id]!, { status: 'FAILED', error, attempts, endedAt: at });
  }

  markSkipped(id: string, reason: string): void {
    Object.assign(this.nodes[id]!, { status: 'SKIPPED', error: reason });
  }

  /** Ends every node that has not finished: in-flight ones as CANCELLED, never-started ones as SKIPPED. */
  closeUnfinished(reason: string, at: string): void {
    for (const result of Object.values(this.nodes)) {
      if (result.status === 'RUNNING') Object.assign(result, { status: 'CANCELLED', error: reason, endedAt: at });
      else if (result.status === 'PENDING') Object.assign(result, { status: 'SKIPPED', error: reason });
    }
  }

  /** A node whose upstream failed critically can never run; the run ends before reaching it. */
  totalCostMicros(): number {
    return Object.values(this.costMicros).reduce((sum, micros) => sum + micros, 0);
  }

  /**
   * The outputs a node receives from its dependencies. A dependency that was skipped or failed
   * without being critical passes on what it would have received, so a rerank skipped by a
   * DEGRADE plan still lets the evaluation see the generated answers.
   */
  upstreamOutputs(node: Pick<DagNode, 'deps'>, seen = new Set<string>()): Record<string, unknown> {
    const upstream: Record<string, unknown> = {};
    for (const dep of node.deps) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      if (dep in this.outputs) upstream[dep] = this.outputs[dep];
      else if (this.nodes[dep]?.status === 'SKIPPED' || this.nodes[dep]?.status === 'FAILED')
        Object.assign(upstream, this.upstreamOutputs(this.node(dep), seen));
    }
    return upstream;
  }

  /** Markdown for the Web UI's current details: the node table with the CostAgent's decision before each node. */
  detailsMarkdown(status: RunStatus, decisions: readonly CostDecision[] = []): string {
    const decided = new Map<string, CostDecision>();
    for (const d of decisions) decided.set(d.nodeId, d);
    // One line per node: the Web UI renders markdown tables without cell padding, which runs columns together.
    const lines = [`**${this.spec.dag.name}** · ${status} · ${formatUsd(this.totalCostMicros())}`, ''];
    for (const node of this.spec.dag.nodes) {
      const r = this.nodes[node.id]!;
      const d = decided.get(node.id);
      const parts = [
        `**${node.id}** (${node.kind})`,
        r.status,
        `${r.attempts} ${r.attempts === 1 ? 'attempt' : 'attempts'}`,
        `$${r.costUsd.toFixed(6)}`,
        ...(r.model ? [r.model] : []),
        ...(d ? [`CostAgent: ${d.action}`] : []),
      ];
      lines.push(`- ${parts.join(' · ')}`);
    }
    const notable = decisions.filter((d) => d.action !== 'CONTINUE');
    if (notable.length > 0) lines.push('', ...notable.map((d) => `- **${d.action}** before ${d.nodeId}: ${d.reason}`));
    return lines.join('\n');
  }
}

/** The cost events a run's result records: one per completed node with a cost, keyed as the run reports them. */
export function costEventsOf(result: Pick<DeliveryRunResult, 'runId' | 'nodes'>): CostEvent[] {
  return Object.entries(result.nodes)
    .filter(([, node]) => node.status === 'COMPLETED' && node.costUsd > 0)
    .map(([nodeId, node]) => ({
      key: nodeChargeKey(result.runId, nodeId, node.executionId),
      runId: result.runId,
      nodeId,
      category: node.category ?? 'compute',
      costMicros: toMicros(node.costUsd),
    }));
}
