import type { AlertRecord } from './budget-alerts';
import type { PrivacyStanding } from './privacy-budget';
import type { CostCategory } from './catalog';
import type { BudgetStatus } from './budget-status';
import type { ArchivedPeriod } from './budget-period';
import type { TenantConfig } from './tenant-config';
import type { ApiToken } from './api-tokens';
import type { InFlightRun, WaitingRun } from './tenant-payloads';
import type { Intensity, LearningEvent, ModelPreference, VariantEvidenceSummary } from './learning';

/** A tenant as its status query, the CLI, the API and the exporter show it. */

export interface TenantStatus {
  tenantId: string;
  config: TenantConfig;
  budgetUsd: number;
  spentUsd: number;
  utilization: number;
  budgetStatus: BudgetStatus;
  spendByCategory: Partial<Record<CostCategory, number>>;
  runsInFlight: InFlightRun[];
  /** The newest budget alerts and their delivery (all of them in the tenant's alerts.jsonl). */
  alerts: AlertRecord[];
  /**
   * An opted-in tenant's privacy account with the cross-tenant priors, as the meta-learning entity
   * keeps it (added by the client that asks; absent while the tenant never contributed).
   */
  privacy?: PrivacyStanding & { composition: 'basic'; epsilonPerRelease: number; epsilonTotal: number };
  runsWaiting: WaitingRun[];
  chargedEvents: number;
  /** Money authorised to in-flight runs and not yet spent. */
  reservedUsd: number;
  periodStart: string;
  /** When the current period ends; absent for period `none`. */
  periodEnd?: string;
  archivedPeriods: ArchivedPeriod[];
  learning: LearningStatus;
  /** The tenant's API tokens, without their hashes. */
  tokens: Array<Omit<ApiToken, 'hash'>>;
}

/** The learning profile as the status query, the CLI and learning_profile.json show it. */
export interface LearningStatus {
  configuredIntensity: Intensity;
  /** The level in force now: stepped down at WARNING and CRITICAL, restored by a new period. */
  intensity: Intensity;
  metaLearningOptIn: boolean;
  budgetShare: number;
  learningBudgetUsd: number;
  learningSpentUsd: number;
  learningReservedUsd: number;
  explorationRate: number;
  costModel: Array<{
    key: string;
    basis: 'ratio' | 'absolute';
    mean: number;
    stdDev: number;
    samples: number;
    prior?: number;
  }>;
  evidence: Array<{ kind: string; fromModel: string; toModel: string } & VariantEvidenceSummary>;
  preferences: ModelPreference[];
  priorsVersion: number;
  history: LearningEvent[];
}
