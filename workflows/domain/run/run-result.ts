/** A run's result: what deliveryRun returns and its progress query answers. */
import type { CostCategory } from '../pricing/catalog';
import type { CostVerdict } from './cost-agent';
import type { VariantEvidenceSummary } from '../learning/profile';

/**
 * A delivery run's result contract: what `deliveryRun` returns, what its `progress` query answers
 * while it runs, what `GET /v1/tenants/{id}/runs/{runId}` and `ados run show` show
 * (docs/CONTRACT.md).
 */
/** A run's statuses, in the order a run goes through them; the last six are final. */
export const RUN_STATUSES = [
  'ADMITTING',
  'WAITING',
  'RUNNING',
  'COMPLETED',
  'DEGRADED',
  'TERMINATED',
  'FAILED',
  'CANCELLED',
  'REJECTED',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const FINAL_RUN_STATUSES: readonly RunStatus[] = RUN_STATUSES.slice(3);

export const NODE_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED', 'CANCELLED'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeResult {
  status: NodeStatus;
  costUsd: number;
  attempts: number;
  model?: string;
  degraded?: boolean;
  error?: string;
  category?: CostCategory;
  startedAt?: string;
  endedAt?: string;
  /** The id of the execution whose result the run took, which its charge is keyed by. */
  executionId?: string;
}

/** One CostAgent decision, as recorded in the run's result and history. */
export interface CostDecision extends CostVerdict {
  nodeId: string;
  at: string;
  /** The node's expected cost and the lease left when the decision was made. */
  nodeEstimateUsd: number;
  leaseAvailableUsd: number;
  /** What a DEGRADE decision changed. */
  plan?: DegradePlan;
  /** This run's projected total when the decision was made: spent + in flight + remaining estimates. */
  runProjectedUsd?: number;
  /** Nodes of the run that had ended when the decision was made. */
  nodesDone?: number;
}

/** What the tenant's learning did to this run. */
export interface RunLearningReport {
  /** Whether this run was picked to explore a cheaper variant in shadow. */
  explore: boolean;
  /** Nodes switched to a cheaper model that proved itself for the tenant, with the evidence. */
  choices: LearnedChoice[];
  /** The shadow exploration started for this run, if any. */
  shadow?: { nodeId: string; workflowId: string; fromModel: string; toModel: string };
}

export interface DeliveryRunResult {
  runId: string;
  tenantId: string;
  status: RunStatus;
  costUsd: number;
  nodes: Record<string, NodeResult>;
  decisions: CostDecision[];
  /** Why the run ended as it did, for REJECTED, FAILED, TERMINATED and CANCELLED runs. */
  reason?: string;
  /** Place in the tenant's admission queue while the run waits. */
  queuePosition?: number;
  /** The tenant's budget status as this run last heard it. */
  budgetStatus?: string;
  learning?: RunLearningReport;
  /** The run's showback tags, as given. */
  tags?: Record<string, string>;
}

/** A node whose model the tenant's learning switched to a cheaper one that proved itself. */
export interface LearnedChoice {
  nodeId: string;
  kind: string;
  fromModel: string;
  toModel: string;
  evidence: VariantEvidenceSummary;
}

/** What a DEGRADE decision did to the nodes not yet started, recorded with the decision. */
export interface DegradePlan {
  skipped: string[];
  params: Record<string, Record<string, unknown>>;
  models: Record<string, { from?: string; to: string }>;
  rerankDisabled: boolean;
}
