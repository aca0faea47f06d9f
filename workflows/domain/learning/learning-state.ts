/** A tenant's learning profile as it is kept: its settings, its state (the learned models, the shadows' evidence, the models proved cheaper) and its event log. */
import type { z } from 'zod';
import type { learningConfigSchema, MetaLearningScope } from './profile-schema';
import type { TokenModel, TokenQuantiles } from '../prediction/token-model';
import type { CostModel, RunningStat } from '../prediction/cost-model';
import type { Intensity } from './intensity';

export type LearningConfig = z.output<typeof learningConfigSchema>;

export type LearningConfigInput = z.input<typeof learningConfigSchema>;

/** One entry of `learning_history.jsonl`: every change of the profile, with its reason. */
export type LearningEvent = { seq: number; at: string; reason: string } & (
  | { type: 'intensity'; from: Intensity; to: Intensity }
  | {
      type: 'exploration';
      runId: string;
      nodeId: string;
      fromModel: string;
      toModel: string;
      qualityFull?: number;
      qualityShadow?: number;
      costFullUsd: number;
      costShadowUsd: number;
      /** Everything the exploration charged to the tenant's learning spend (the shadow and its evaluations). */
      chargedUsd?: number;
    }
  | { type: 'exploration-denied'; runId: string; nodeId: string }
  | {
      type: 'preference';
      kind: string;
      fromModel: string;
      toModel: string;
      adopted: boolean;
      evidence: VariantEvidenceSummary;
    }
  | { type: 'priors'; version: number; keys: number }
  | { type: 'meta-learning'; optIn: boolean; samples?: number }
);

/** What shadow comparisons of one (kind, full model → cheaper model) pair have shown. */
export interface VariantEvidence {
  kind: string;
  fromModel: string;
  toModel: string;
  qualityFull: RunningStat;
  qualityShadow: RunningStat;
  costFull: RunningStat;
  costShadow: RunningStat;
}

export interface VariantEvidenceSummary {
  samples: number;
  qualityFull: number;
  qualityShadow: number;
  costFullUsd: number;
  costShadowUsd: number;
}

/** A cheaper model that proved itself for this tenant; runs use it as the node's full model. */
export interface ModelPreference {
  kind: string;
  fromModel: string;
  toModel: string;
  since: string;
  evidence: VariantEvidenceSummary;
}

/** What an admitted run learns from its tenant: whether to explore, the cost model, the preferences. */
export interface RunLearning {
  explore: boolean;
  costModel: CostModel;
  /** The token model's quantiles, once the tenant has any. */
  tokens?: TokenQuantiles;
  preferences: Record<string, ModelPreference>;
}

/** A shadow comparison, as the shadowExploration workflow reports it. */
export interface ShadowObservation {
  kind: string;
  fromModel: string;
  toModel: string;
  /** Mean of token F1 and ROUGE-L against the same reference; absent if the shadow was cut short. */
  qualityFull?: number;
  qualityShadow?: number;
  costFullMicros: number;
  costShadowMicros: number;
}

export interface LearningState {
  effectiveIntensity: Intensity;
  /** Learning money granted to shadows not yet settled, by exploration id. */
  reservations: Record<string, number>;
  /** Grows by the exploration rate with each admission; a run explores each time it passes 1. */
  explorationCredit: number;
  evidence: Record<string, VariantEvidence>;
  preferences: Record<string, ModelPreference>;
  costModel: CostModel;
  /** Token distributions learned from node features; absent in entities from before they were learned. */
  tokens?: TokenModel;
  /** Published output-length priors (share histograms per `model|max_tokens bucket`), from the latest release that had any. */
  tokenPriors?: Record<string, number[]>;
  /** The newest events, oldest first; the exporter appends them to learning_history.jsonl by seq. */
  history: LearningEvent[];
  historySeq: number;
  /** Cost samples recorded when this tenant last contributed to the priors. */
  contributedSamples: number;
  /** Whether meta-learning last heard this tenant opt in (false until the first exchange). */
  metaOptIn: boolean;
  /** The scope of this tenant's last contribution; absent in entities from before scopes ('placement'). */
  metaScope?: MetaLearningScope;
  priorsVersion: number;
}

/** Events kept in the entity's state; the exporter has every one of them on disk long before. */
export const LEARNING_EVENTS_KEPT = 200;

export function createLearningState(config: LearningConfig): LearningState {
  return {
    effectiveIntensity: config.intensity,
    reservations: {},
    explorationCredit: 0,
    evidence: {},
    preferences: {},
    costModel: {},
    history: [],
    historySeq: 0,
    contributedSamples: 0,
    metaOptIn: false,
    priorsVersion: 0,
  };
}
