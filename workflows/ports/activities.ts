/** What workflows ask of activities: the node, control and alert activities' contracts. */
import type { NodeOutcome } from '../domain/run/run-state';
import type { CostStats, PublishedPriors, TokenStats } from '../domain/learning/priors';
import type { MetaLearningScope } from '../domain/learning/profile-schema';
import type { NegotiatedRate, RunPrices } from '../domain/pricing/catalog';
import type { AlertBody } from '../domain/alerts/budget-alerts';
import type { RunLaunch } from '../messages/delivery-run';

/** What a node activity receives: the node, its resolved model, and its dependencies' outputs. */
export interface NodeTask {
  tenantId: string;
  runId: string;
  nodeId: string;
  kind: string;
  params: Record<string, unknown>;
  model?: string;
  upstream: Record<string, unknown>;
  /** The tenant's negotiated rate for the model, charged instead of the price source's. */
  negotiatedRate?: NegotiatedRate;
  /**
   * For a retrieval node: the models of the llm.generate nodes that build their prompt from its
   * passages alone. It counts that prompt's input tokens on each (`promptTokensByModel`), so
   * their input cost is known to the token before they run.
   */
  promptModels?: string[];
}

/** Every node kind is an activity of this shape, registered under the kind's name. */
export type NodeActivity = (task: NodeTask) => Promise<NodeOutcome>;

/** Deployment facts only a worker process knows; read once per run through a local activity. */
export interface DeploymentSettings {
  nodePartitions: number;
  nodeKinds: string[];
  /** Recorded by earlier versions, whose runs started an exporter as they closed unless this was false. */
  exportOnClose?: boolean;
  /** The LLM prices a run started without a launch estimates with (recorded with this marker). */
  prices?: RunPrices;
  /** A bare run's launch, or the problems of its input (runs of this version). */
  launched?: { problems: string[] } | { launch: RunLaunch };
}

import type { BlockRun } from '../domain/admission/blocks';

export interface ControlActivities {
  /**
   * The worker's settings; given a run started bare, also its launch, made as ADOS starters make
   * theirs (api/client/launch.ts: the one validation against the kinds the worker knows, the
   * prices, the tenant's admission). Runs of earlier versions recorded the settings alone.
   */
  deploymentSettings(run?: { input: unknown; workflowId: string; startedAt?: string }): Promise<DeploymentSettings>;
  /** Uniform draws in (-0.5, 0.5) from the OS's CSPRNG, for the Laplace noise of the priors. */
  laplaceUniforms(input: { count: number }): Promise<number[]>;
  /**
   * Sends an opted-in tenant's statistics to the meta-learning entity of its scope (starting it if
   * needed), out of the other's; returns the latest priors (publishedPriors). @default scope 'placement'
   */
  contributeCostStats(input: {
    tenantId: string;
    stats: CostStats;
    tokens?: TokenStats;
    scope?: MetaLearningScope;
  }): Promise<PublishedPriors | undefined>;
  /** Takes an opted-out tenant's statistics out of future releases. */
  withdrawCostStats(input: { tenantId: string }): Promise<void>;
  /**
   * The latest published priors, or undefined while there are none: in a deployment of regions,
   * this placement's releases combined with those other placements share with every region.
   */
  publishedPriors(): Promise<PublishedPriors | undefined>;
  /** Hands a release of `meta-learning:all-regions` to the directory's priors exchange. */
  shareRelease(input: { priors: PublishedPriors }): Promise<void>;
  /** The runs started from an admission block (its AdmissionBlock search attribute), and whether each still runs. */
  blockRuns(input: { tenantId: string; blockId: string }): Promise<BlockRun[]>;
}

/** What the budgetAlert workflow hands its delivery activity. */
export interface AlertDelivery {
  tenantId: string;
  id: string;
  body: AlertBody;
  webhookUrl: string;
  /** The signing secret, sealed (infra/seal.ts); opened only by the activity that signs. */
  secretSealed: string;
}

/** Activities of the control worker that deliver budget alerts. */
export interface AlertActivities {
  /** Signs the alert (Standard Webhooks) and POSTs it; throws while the receiver does not take it. */
  deliverAlert(input: AlertDelivery): Promise<{ status: number; attempt: number }>;
}

/** The sweep's safety net for slots: runs the entity counts in flight whose workflows have closed. */
export interface SlotActivities {
  reclaimSlots(): Promise<{ released: number }>;
}

/** Activities of the control worker that write artifacts. */
export interface ExportActivities {
  exportRunArtifacts(input: { tenantId: string; runId: string }): Promise<{ files: string[] }>;
  exportPendingArtifacts(): Promise<{ exported: number; queues: number; failedTenants?: string[] }>;
}
