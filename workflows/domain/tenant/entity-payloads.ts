/** What runs, starters and the tenant entity send each other. */
import type { BlockUse } from '../admission/blocks';
import type { NodeFeatures } from '../prediction/token-model';
import type { CostCategory, NegotiatedRate } from '../pricing/catalog';
import type { BudgetStatus } from './budget-status';
import type { TenantConfig } from './tenant-config';
import type { RunLearning, ShadowObservation } from '../learning/profile';

/**
 * What runs, starters and the tenantBudget entity send each other (the payloads of the messages in
 * ./tenant-budget.ts): cost events, admission requests and decisions, budget leases and pressure,
 * and learning's shadow explorations.
 */

/** What priced an LLM charge: the provider and model the price data matched, the token usage, and the price source and its version. */
export interface ChargePricing {
  provider: string;
  priceModel: string;
  source: string;
  sourceVersion: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  /** The tenant's negotiated rate that priced the charge instead of the source's list price. */
  negotiated?: NegotiatedRate;
}

/** A cost event from a run; `key` is `{runId}/{nodeId}` and makes the charge idempotent. */
export interface CostEvent {
  key: string;
  runId: string;
  nodeId: string;
  category: CostCategory;
  costMicros: number;
  /** The node's kind and model, and the catalog's estimate of the variant that ran: what the cost model learns from. */
  kind?: string;
  model?: string;
  estimateMicros?: number;
  /** The run's showback tags. */
  tags?: Record<string, string>;
  /** For an LLM charge: what priced it. */
  pricing?: ChargePricing;
  /** What the node used (tokens, max_tokens, top_k): what the tenant's token model learns from. */
  features?: NodeFeatures;
}

export interface AdmissionRequest {
  runId: string;
  workflowId: string;
  priority: number;
  /** The run's estimated full cost, which its first lease tries to cover. @default 0 */
  estimatedMicros?: number;
  /** The 95th percentile of its cost, which the first lease covers instead for a tenant that leases at p95. */
  p95Micros?: number;
  /**
   * The run exists already: its own worker asks, in the run's first step (a run started bare).
   * Such a run that must wait is queued at once, and told by `admissionDecision` when its turn
   * comes, as a run that asked by signal is; a run not yet started is only told QUEUE.
   */
  started?: boolean;
  /**
   * When the run's workflow started, for a run that exists (it asks itself, or its worker launches
   * it): a tenant moving to another deployment still takes a run started before the move began.
   */
  startedAt?: string;
}

export interface InFlightRun {
  runId: string;
  workflowId: string;
  priority: number;
  admittedAt: string;
  /** Money authorised to this run so far. */
  grantedMicros: number;
  /** This run's costs the entity has charged. */
  reportedMicros: number;
  /** What the run last said it still expects to spend. */
  estRemainingMicros: number;
  /** The run was told to explore in shadow when admitted (a repeat of its admission is told the same). */
  explores?: boolean;
  /** The last lease request granted (its `seq`): a request asked again is granted once. */
  leaseSeq?: number;
}

export interface WaitingRun extends AdmissionRequest {
  requestedAt: string;
}

/** The tenant's pressure as one run sees it: the CostAgent decides on this without asking again. */
export interface TenantPressure {
  budgetMicros: number;
  spentMicros: number;
  othersCommittedMicros: number;
  activeRuns: number;
  maxConcurrentRuns: number;
  backpressureThreshold: number;
  thresholds: TenantConfig['thresholds'];
  budgetStatus: BudgetStatus;
  /** The tenant's negotiated LLM rates, per model (absent when it has none). */
  negotiatedRates?: TenantConfig['negotiatedRates'];
  /** Present when the tenant's runs hold their leases at the p95 of their remaining cost instead of its estimate. */
  leaseAt?: 'p95';
}

/** A budget lease: the money authorised to a run in all, and the pressure when it was granted. */
export interface LeaseGrant {
  runId: string;
  grantedMicros: number;
  pressure: TenantPressure;
  /** Echo of the request's sequence number, so the run matches answers to questions. */
  seq: number;
}

export interface LeaseRequest {
  runId: string;
  seq: number;
  /** Extra money wanted on top of what was granted. */
  requestMicros: number;
  estRemainingMicros: number;
  costs: CostEvent[];
  /**
   * A run admitted from a starter's block says so: should its starter not have reported it yet,
   * the entity takes it out of the block now, as the report would.
   */
  block?: Omit<BlockUse, 'runId'>;
  /**
   * Who asks: the entity answers here even when it does not know the run, and holds its slot again
   * (an admission lost with a region: the run's copy has it, the entity's does not).
   */
  workflowId?: string;
  priority?: number;
}

export type AdmissionDecision =
  | {
      kind: 'ADMITTED';
      runId: string;
      dedicatedQueue: boolean;
      budgetStatus: BudgetStatus;
      lease: LeaseGrant;
      learning?: RunLearning;
      /** Admitted by its starter from a block the entity leased it: the run's release names it. */
      block?: { blockId: string; leaseMicros: number };
    }
  | { kind: 'WAITING'; runId: string; position: number }
  | {
      kind: 'REJECTED';
      runId: string;
      reason: string;
      /** Why, for programs: the tenant is over budget, or does not exist. Absent in answers of earlier versions. */
      code?: RejectionCode;
    };

/** Why a run was rejected: its tenant's budget is spent, the tenant does not exist, or it moved to another deployment (`ados tenant move-in`). */
export type RejectionCode = 'BUDGET_EXCEEDED' | 'UNKNOWN_TENANT' | 'TENANT_MOVED';

/**
 * The answer a run carries in its launch: ADMITTED or REJECTED, so that it needs no admission
 * message; or, for a run whose own worker asked (`started`), WAITING: it is in its tenant's queue
 * and waits for `admissionDecision` without asking again.
 */
export type AdmissionTicket = Extract<AdmissionDecision, { kind: 'ADMITTED' | 'REJECTED' | 'WAITING' }>;

/** A decision addressed to the run that asked for it. */
export interface AdmissionReply {
  workflowId: string;
  decision: AdmissionDecision;
}

export interface ExplorationRequest {
  explorationId: string;
  workflowId: string;
  runId: string;
  nodeId: string;
  requestMicros: number;
}

export interface ExplorationReport {
  explorationId: string;
  runId: string;
  nodeId: string;
  /** The shadow's costs; charged to the `learning` category whatever the node's own category. */
  costs: CostEvent[];
  observation?: ShadowObservation;
}

/** What the tenant's entity knows that a quote needs: its learned cost model and preferences, its negotiated rates. */
export interface QuoteInputs {
  learning: Omit<RunLearning, 'explore'>;
  negotiatedRates?: Readonly<Record<string, NegotiatedRate>>;
  /** Whether its runs hold their leases at the quote's p95. */
  leaseAt: 'estimate' | 'p95';
}
