/** The shadowExploration workflow: a run's cheaper variant tried in shadow, for learning. */
import {
  condition,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
  CancellationScope,
} from '@temporalio/workflow';
import { catalogEstimateMicros } from './domain/prediction/estimates';
import { tenantBudgetWorkflowId } from './domain/ids';
import type { CostEvent } from './domain/tenant/entity-payloads';
import type { ShadowObservation } from './domain/learning/profile';
import type { NodeActivity, NodeTask } from './ports/activities';
import { explorationGrantedSignal, requestExplorationSignal, settleExplorationSignal } from './messages/tenant-budget';
import { usd, type ModelRates, type NegotiatedRate } from './domain/pricing/catalog';

export { explorationGrantedSignal };

export interface ShadowExplorationInput {
  tenantId: string;
  runId: string;
  nodeId: string;
  /** The node queue the real node ran on; the shadow runs there too, at the lowest priority. */
  taskQueue: string;
  /** The real node's task, with the model it ran with. */
  task: NodeTask;
  realOutput: unknown;
  realCostMicros: number;
  fromModel: string;
  toModel: string;
  /** The run's evaluation reference, if its DAG gives one; else both answers are judged against the retrieved passages. */
  reference?: string;
  /** What the cheaper call is expected to cost: the real cost scaled by the two models' prices. */
  estimateMicros: number;
  /** The LLM prices of the run that started it (absent from runs before prices were recorded). */
  rates?: ModelRates;
  /** The tenant's negotiated rate for the shadow's model, if it has one. */
  toModelRate?: NegotiatedRate;
}

export interface ShadowExplorationResult {
  status: 'COMPARED' | 'DENIED' | 'CUT_SHORT';
  grantedUsd: number;
  spentUsd: number;
  observation?: ShadowObservation;
}

/** Held back from the LLM call's cap for the two evaluations. */
const EVAL_RESERVE_MICROS = 400;
/** The grant asked for: the estimate of the cheaper call with room for a longer answer, plus the evaluations. */
const SHADOW_HEADROOM = 1.25;
/** How long a shadow waits for its learning money before giving up. */
const GRANT_TIMEOUT = '1 minute';

/**
 * Runs one node of a finished real run again with a cheaper model, in shadow: both answers are
 * scored with `eval.score`, and the tenant's entity learns from the comparison. Started by the run
 * with parent-close policy ABANDON, so it never delays the run or changes its result; every cent
 * it spends comes out of a learning grant it asked for first and is charged to `learning`.
 */
export async function shadowExploration(input: ShadowExplorationInput): Promise<ShadowExplorationResult> {
  const { tenantId, runId, nodeId } = input;
  const explorationId = `${runId}/${nodeId}`;
  const tenant = getExternalWorkflowHandle(tenantBudgetWorkflowId(tenantId));
  let grantedMicros: number | undefined;
  setHandler(explorationGrantedSignal, (grant) => {
    if (grant.explorationId === explorationId) grantedMicros ??= grant.grantedMicros;
  });

  // The real node's negotiated rate was for its own model; the shadow's model has its own, if any.
  const shadowTask: NodeTask = {
    ...input.task,
    negotiatedRate: undefined,
    model: input.toModel,
    params: { ...input.task.params, model: input.toModel },
    ...(input.toModelRate ? { negotiatedRate: input.toModelRate } : {}),
  };
  const requestMicros = Math.round(input.estimateMicros * SHADOW_HEADROOM) + EVAL_RESERVE_MICROS;
  await tenant.signal(requestExplorationSignal, {
    explorationId,
    workflowId: workflowInfo().workflowId,
    runId,
    nodeId,
    requestMicros,
  });
  if (!(await condition(() => grantedMicros !== undefined, GRANT_TIMEOUT)) || !grantedMicros) {
    // A grant that arrives after the timeout must not stay reserved.
    await tenant.signal(settleExplorationSignal, { explorationId, runId, nodeId, costs: [] });
    return { status: 'DENIED', grantedUsd: 0, spentUsd: 0 };
  }

  const node = (kind: string, summary: string): NodeActivity =>
    proxyActivities<Record<string, NodeActivity>>({
      taskQueue: input.taskQueue,
      startToCloseTimeout: '5 minutes',
      heartbeatTimeout: '10s',
      retry: { maximumAttempts: 2 },
      // Shadows are the least urgent work on the queue.
      priority: { priorityKey: 5, fairnessKey: tenantId },
      summary,
    })[kind]!;
  const costs: CostEvent[] = [];
  const spent = () => costs.reduce((sum, c) => sum + c.costMicros, 0);
  let observation: ShadowObservation | undefined;
  try {
    const shadow = await node(
      shadowTask.kind,
      `shadow of ${nodeId}: ${input.fromModel} → ${input.toModel}`,
    )({
      ...shadowTask,
      params: { ...shadowTask.params, max_cost_usd: usd(grantedMicros - EVAL_RESERVE_MICROS) },
    });
    costs.push({
      key: `${explorationId}/shadow`,
      runId,
      nodeId,
      category: 'learning',
      costMicros: shadow.costMicros,
      kind: shadowTask.kind,
      model: input.toModel,
      estimateMicros: catalogEstimateMicros(
        shadowTask.kind,
        { params: shadowTask.params, model: input.toModel },
        input.rates ? { source: 'run', version: '', models: input.rates } : undefined,
      ),
    });
    observation = {
      kind: shadowTask.kind,
      fromModel: input.fromModel,
      toModel: input.toModel,
      costFullMicros: input.realCostMicros,
      costShadowMicros: shadow.costMicros,
    };
    const score = async (which: 'full' | 'shadow', output: unknown): Promise<number> => {
      const evalTask: NodeTask = {
        tenantId,
        runId,
        nodeId: `${nodeId}-eval-${which}`,
        kind: 'eval.score',
        params: {
          ...(input.reference ? { reference: input.reference } : {}),
          max_cost_usd: Math.max(0, grantedMicros! - spent()) / 2e6,
        },
        upstream: { [nodeId]: output },
      };
      const scored = await node('eval.score', `score the ${which} answer of ${nodeId}`)(evalTask);
      costs.push({
        key: `${explorationId}/eval-${which}`,
        runId,
        nodeId,
        category: 'learning',
        costMicros: scored.costMicros,
        kind: 'eval.score',
        estimateMicros: catalogEstimateMicros('eval.score', { params: {} }),
      });
      const out = scored.output as { f1: number; rougeL: number };
      return (out.f1 + out.rougeL) / 2;
    };
    observation.qualityFull = await score('full', input.realOutput);
    observation.qualityShadow = await score('shadow', shadow.output);
  } catch (err) {
    log.warn('shadow cut short', { tenantId, runId, nodeId, error: String(err) });
  } finally {
    await CancellationScope.nonCancellable(() =>
      tenant.signal(settleExplorationSignal, {
        explorationId,
        runId,
        nodeId,
        costs,
        ...(observation ? { observation } : {}),
      }),
    );
  }
  const compared = observation?.qualityShadow !== undefined;
  return {
    status: compared ? 'COMPARED' : 'CUT_SHORT',
    grantedUsd: usd(grantedMicros),
    spentUsd: usd(spent()),
    ...(observation ? { observation } : {}),
  };
}
