/**
 * The metaLearning entity's message API: every signal and query it takes, declared once.
 * Tenant entities (through the control activities), clients and tests import these.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CostStats, PriorsConfig, PublishedPriors, TokenStats } from '../domain/learning/priors';
import type { PrivacyAccounts, PrivacyStanding } from '../domain/learning/privacy-budget';

/** An opted-in tenant's latest cost statistics (and output-length histograms); replaces its previous contribution. */
export const contributeStatsSignal =
  defineSignal<[{ tenantId: string; stats: CostStats; tokens?: TokenStats }]>('contributeStats');
/** A tenant opted out: its statistics leave every future release. Past releases cannot be recalled. */
export const withdrawStatsSignal = defineSignal<[{ tenantId: string }]>('withdrawStats');
/** The latest release of noised priors (undefined before the first). */
export const priorsQuery = defineQuery<PublishedPriors | undefined>('priors');
/** Who contributes to which coordinate, and the release count: never the values. */
export const metaLearningStatusQuery = defineQuery<MetaLearningStatus>('status');

export interface MetaLearningStatus {
  contributors: string[];
  releases: number;
  /** How a tenant's privacy loss adds up over releases. */
  composition: 'basic';
  /** The most ε any tenant's data has lost in its current accounting period. */
  epsilonSpent: number;
  /** Each contributor's (and each former contributor's) account: ε spent and left, when it renews, whether it is left out. */
  privacy: PrivacyStanding[];
  config: PriorsConfig;
  coordinates: Array<{ key: string; basis: string; contributors: number; noiseScale: number }>;
}

/** What the entity starts with: its configuration, and after a continue-as-new its state. */
export interface MetaLearningInput {
  config?: Partial<PriorsConfig>;
  state?: MetaLearningState;
  /**
   * Share each release with every region: the entity of a placement's `all-regions` tenants
   * (`meta-learning:all-regions`) hands each release to the directory's priors exchange. @default false
   */
  share?: boolean;
}

/** A placement's latest shared release, for the directory's priors exchange; an older version than it holds is ignored. */
export const sharedReleaseSignal = defineSignal<[PublishedPriors]>('sharedRelease');

/** What the priors exchange of one placement starts with: its namespace, and after a continue-as-new its latest release. */
export interface PriorsExchangeInput {
  source: string;
  latest?: PublishedPriors;
}

export interface MetaLearningState {
  contributions: Record<string, CostStats>;
  /** Output-length histograms by tenant; absent in states written before they were contributed. */
  tokens?: Record<string, TokenStats>;
  published?: PublishedPriors;
  releases: number;
  dirty: boolean;
  /** Absent in states written before privacy accounts existed. */
  accounts?: PrivacyAccounts;
}
