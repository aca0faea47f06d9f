import type { DagNode } from './dag';
import { degradedVariant, estimateNodeMicros, fullVariant, type NodeVariant } from './estimates';
import type { RunState } from './run-state';

/** What a DEGRADE decision did to the nodes not yet started, recorded with the decision. */
export interface DegradePlan {
  skipped: string[];
  params: Record<string, Record<string, unknown>>;
  models: Record<string, { from?: string; to: string }>;
  rerankDisabled: boolean;
}

/**
 * How each node will run (full or degraded) and what the rest of the run is expected to cost.
 * Pure bookkeeping over RunState, so the CostAgent's inputs are testable without a server.
 */
export class RunPlan {
  private degradedNodes = new Set<string>();
  degraded = false;

  constructor(private readonly run: RunState) {}

  variant(node: DagNode): NodeVariant {
    return this.degradedNodes.has(node.id) ? degradedVariant(node) : fullVariant(node);
  }

  isDegraded(nodeId: string): boolean {
    return this.degradedNodes.has(nodeId);
  }

  estimate(node: DagNode): number {
    return estimateNodeMicros(node, this.degradedNodes.has(node.id));
  }

  /** Nodes that have not started: the ones a decision can still change. */
  notStarted(): DagNode[] {
    return this.run.spec.dag.nodes.filter((n) => this.run.nodes[n.id]!.status === 'PENDING');
  }

  /** Expected cost of every node not yet started, as planned now. */
  remainingMicros(): number {
    return this.notStarted().reduce((sum, n) => sum + this.estimate(n), 0);
  }

  /** Expected cost of the same nodes under a DEGRADE plan: non-critical ones skipped, the rest degraded. */
  remainingDegradedMicros(): number {
    return this.notStarted().reduce((sum, n) => sum + (n.critical ? estimateNodeMicros(n, true) : 0), 0);
  }

  /** Applies a DEGRADE plan to every node not yet started and says what it changed. */
  degrade(): DegradePlan {
    const plan: DegradePlan = { skipped: [], params: {}, models: {}, rerankDisabled: false };
    for (const node of this.notStarted()) {
      if (!node.critical) {
        this.run.markSkipped(node.id, 'skipped by a DEGRADE plan');
        this.run.nodes[node.id]!.degraded = true;
        plan.skipped.push(node.id);
        continue;
      }
      const before = fullVariant(node);
      const after = degradedVariant(node);
      this.degradedNodes.add(node.id);
      const changed = Object.fromEntries(Object.entries(after.params).filter(([k, v]) => k !== 'model' && before.params[k] !== v));
      if (Object.keys(changed).length > 0) plan.params[node.id] = changed;
      if (after.model && after.model !== before.model) plan.models[node.id] = { ...(before.model ? { from: before.model } : {}), to: after.model };
      if (after.params.rerank === false && before.params.rerank !== false) plan.rerankDisabled = true;
    }
    this.degraded = true;
    return plan;
  }
}
