/**
 * What a shadow exploration of one LLM node is given: the next cheaper model, what the shadow is
 * expected to cost (the real cost scaled by the two models' catalog prices), and the run's reference
 * answer if its DAG has one. The run decides whether to explore (its learning profile); this says with what.
 */
import type { DagNode, DeliveryRunSpec } from '../domain/run/dag';
import { cheaperModel, type NegotiatedRate, type RunPrices } from '../domain/pricing/catalog';
import { catalogEstimateMicros } from '../domain/prediction/estimates';
import type { NodeOutcome } from '../domain/run/run-state';
import type { NodeTask } from '../ports/activities';
import type { ShadowExplorationInput } from '../shadow-exploration';

export interface ShadowOf {
  spec: DeliveryRunSpec;
  runId: string;
  node: DagNode;
  /** The real node's task and outcome, and the queue it ran on. */
  task: NodeTask;
  outcome: NodeOutcome;
  taskQueue: string;
  prices: RunPrices | undefined;
  rateFor(model: string): NegotiatedRate | undefined;
}

/** The shadow's input, or undefined when the node has no model or its model no cheaper one. */
export function shadowInput({
  spec,
  runId,
  node,
  task,
  outcome,
  taskQueue,
  prices,
  rateFor,
}: ShadowOf): ShadowExplorationInput | undefined {
  const fromModel = task.model;
  const toModel = fromModel ? cheaperModel(fromModel, prices) : undefined;
  if (!fromModel || !toModel) return undefined;
  const catalogFull = catalogEstimateMicros(node.kind, { params: task.params, model: fromModel }, prices);
  const catalogShadow = catalogEstimateMicros(node.kind, { params: task.params, model: toModel }, prices);
  const reference = spec.dag.nodes.find((n) => n.kind === 'eval.score' && typeof n.params.reference === 'string')
    ?.params.reference as string | undefined;
  const toModelRate = rateFor(toModel);
  return {
    tenantId: spec.tenantId,
    runId,
    nodeId: node.id,
    taskQueue,
    task,
    realOutput: outcome.output,
    realCostMicros: outcome.costMicros,
    fromModel,
    toModel,
    estimateMicros: catalogFull > 0 ? Math.round((outcome.costMicros * catalogShadow) / catalogFull) : catalogShadow,
    ...(reference ? { reference } : {}),
    ...(prices ? { rates: prices.models } : {}),
    ...(toModelRate ? { toModelRate } : {}),
  };
}
