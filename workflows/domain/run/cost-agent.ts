/** The CostAgent: continue, degrade or terminate, before every node. */
import type { TenantPressure } from '../tenant/entity-payloads';
import { formatUsd, usd } from '../pricing/catalog';

export interface CostAgentInput {
  pressure: TenantPressure;
  /** This run's costs not yet reported to the entity. */
  unreportedMicros: number;
  /** This node plus every node not yet started, as currently planned. */
  remainingFullMicros: number;
  /** The same under a DEGRADE plan. */
  remainingDegradedMicros: number;
  nodesDone: number;
  nodesTotal: number;
  alreadyDegraded: boolean;
  /** How much the remaining estimate can be trusted (0..1), from the learned cost model. @default 1 */
  estimateConfidence?: number;
}

export const COST_ACTIONS = ['CONTINUE', 'DEGRADE', 'TERMINATE'] as const;
export type CostAction = (typeof COST_ACTIONS)[number];

export interface CostVerdict {
  action: CostAction;
  reason: string;
  utilization: number;
  concurrencyFactor: number;
  projectedTotalUsd: number;
  confidence: number;
}

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The CostAgent: before every node, CONTINUE, DEGRADE the rest of the run, or TERMINATE it.
 * Pure, so it runs inside workflow code and is tested on its own. The projection counts every
 * in-flight run of the tenant, not only this one.
 */
export function decideCost(input: CostAgentInput): CostVerdict {
  const { pressure: p } = input;
  const spent = p.spentMicros + input.unreportedMicros;
  const utilization = spent / p.budgetMicros;
  const concurrencyFactor = p.activeRuns / p.maxConcurrentRuns;
  const committed = spent + p.othersCommittedMicros;
  const projectedFull = committed + input.remainingFullMicros;
  const projectedDegraded = committed + input.remainingDegradedMicros;
  const progress = input.nodesTotal > 0 ? input.nodesDone / input.nodesTotal : 1;
  // More runs in flight means more estimates that may be wrong at once; progress means fewer unknowns left.
  // Estimates with few samples or a wide spread count for less, too.
  const estimates = 0.5 + 0.5 * (input.estimateConfidence ?? 1);
  const confidence = round(
    Math.max(0.05, Math.min(1, (0.5 + 0.5 * progress) * (1 - 0.5 * Math.min(1, concurrencyFactor)) * estimates)),
  );
  const verdict = (action: CostAction, reason: string, projected: number): CostVerdict => ({
    action,
    reason,
    utilization: round(utilization, 6),
    concurrencyFactor: round(concurrencyFactor),
    projectedTotalUsd: usd(projected),
    confidence,
  });

  if (utilization >= 1)
    return verdict(
      'TERMINATE',
      `budget exceeded: spent ${formatUsd(spent)} of ${formatUsd(p.budgetMicros)}`,
      projectedFull,
    );
  if (projectedDegraded > p.budgetMicros) {
    return verdict(
      'TERMINATE',
      `even the degraded remainder (${formatUsd(input.remainingDegradedMicros)}) would take the tenant to ${formatUsd(projectedDegraded)} of ${formatUsd(p.budgetMicros)}, counting ${formatUsd(p.othersCommittedMicros)} committed by other runs`,
      projectedDegraded,
    );
  }
  if (input.alreadyDegraded) return verdict('CONTINUE', 'continuing on the degraded plan', projectedDegraded);
  if (utilization > p.thresholds.critical) {
    return verdict(
      'DEGRADE',
      `utilization ${(utilization * 100).toFixed(1)}% is above the critical threshold ${(p.thresholds.critical * 100).toFixed(0)}%`,
      projectedDegraded,
    );
  }
  if (concurrencyFactor > p.backpressureThreshold) {
    return verdict(
      'DEGRADE',
      `${p.activeRuns} of ${p.maxConcurrentRuns} runs in flight is above the backpressure threshold ${p.backpressureThreshold}`,
      projectedDegraded,
    );
  }
  if (projectedFull > p.budgetMicros) {
    return verdict(
      'DEGRADE',
      `the full remainder (${formatUsd(input.remainingFullMicros)}) would take the tenant to ${formatUsd(projectedFull)} of ${formatUsd(p.budgetMicros)}`,
      projectedDegraded,
    );
  }
  return verdict('CONTINUE', 'within budget and below every threshold', projectedFull);
}
