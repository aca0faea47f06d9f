/** A tenant's status, as its query, the CLI, the API and the exporter show it. */
import { histogramQuantiles, sketchQuantiles } from '../prediction/token-sketch';
import type { AlertRecord } from '../alerts/budget-alerts';
import type { PrivacyStanding } from '../learning/privacy-budget';
import type { CostCategory } from '../pricing/catalog';
import type { BudgetStatus } from './budget-status';
import type { ArchivedPeriod } from './budget-period';
import type { TenantConfig } from './tenant-config';
import type { ApiToken } from './api-tokens';
import type { TenantLedger } from './ledger';
import { usd } from '../pricing/catalog';
import { round4, stdDev } from '../prediction/cost-model';
import { summarizeEvidence } from '../learning/profile';
import type { InFlightRun, WaitingRun } from './entity-payloads';
import type { Intensity, LearningEvent, ModelPreference, VariantEvidenceSummary } from '../learning/profile';
import type { MetaLearningScope } from '../learning/profile-schema';

/**
 * A tenant as its status query, the CLI, the API and the exporter show it: the views, built from
 * the ledger (./tenant-ledger.ts), which keeps the state and its rules.
 */

export interface TenantStatus {
  tenantId: string;
  config: TenantConfig;
  budgetUsd: number;
  spentUsd: number;
  utilization: number;
  budgetStatus: BudgetStatus;
  /** Where the tenant moved (`ados tenant move-in`): it admits no new run here. Absent while it has not. */
  movedTo?: string;
  spendByCategory: Partial<Record<CostCategory, number>>;
  /** Spend this period by model (`(none)` for nodes without one) and by run tag `key=value`, in USD: the showback report's byModel and byTag, live. */
  spendByModel: Record<string, number>;
  spendByTag: Record<string, number>;
  /** Cumulative spend this period over time, oldest first (at most 120 points, coarser as the period fills). */
  spendSeries: Array<{ at: string; spentUsd: number }>;
  runsInFlight: InFlightRun[];
  /**
   * Admission blocks leased to starters: the slots and money each holds (runs started from it and
   * not yet reported count in it), and until when.
   */
  admissionBlocks: Array<{ blockId: string; starter: string; slots: number; reservedUsd: number; expiresAt: string }>;
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
  /** Where its contribution may reach, in a deployment of regions (profile-schema.ts). */
  metaLearningScope: MetaLearningScope;
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
  /**
   * The token model's distributions (docs/PREDICTION.md): `output` shares of max_tokens by
   * model|bucket|candidates, `input` ratios by model, `prompt` tokens per passage by corpus,
   * `cost` of a retrieval search in micro-dollars by corpus and top_k, and `prior`: the published
   * cross-tenant output shares by model|bucket (samples 0: none of them the tenant's own).
   */
  tokenModel: Array<{
    family: 'output' | 'input' | 'prompt' | 'cost' | 'prior';
    key: string;
    p5: number;
    p50: number;
    p95: number;
    samples: number;
  }>;
  evidence: Array<{ kind: string; fromModel: string; toModel: string } & VariantEvidenceSummary>;
  preferences: ModelPreference[];
  priorsVersion: number;
  history: LearningEvent[];
}

/** The tenant as its status query answers: budget, spend, runs, alerts, learning, tokens. */
export function tenantStatusOf(ledger: TenantLedger): TenantStatus {
  const end = ledger.currentPeriodEnd();
  return {
    tenantId: ledger.config.tenantId,
    config: ledger.config,
    budgetUsd: ledger.config.budgetUsd,
    spentUsd: usd(ledger.spentMicros()),
    utilization: ledger.utilization(),
    budgetStatus: ledger.budgetStatus(),
    ...(ledger.state.movedTo !== undefined ? { movedTo: ledger.state.movedTo } : {}),
    spendByCategory: ledger.spendByCategory(),
    ...spendViews(ledger),
    runsInFlight: ledger.state.inFlight.map((r) => ({ ...r })),
    admissionBlocks: ledger
      .blocks()
      .list()
      .map((b) => ({
        blockId: b.blockId,
        starter: b.starter,
        slots: b.slots,
        reservedUsd: usd(b.micros),
        expiresAt: b.expiresAt,
      })),
    alerts: ledger.state.alerts?.log.map((a) => ({ ...a })) ?? [],
    runsWaiting: [...ledger.state.waiting],
    chargedEvents: ledger.state.chargedEvents,
    reservedUsd: usd(ledger.reservedMicros()),
    periodStart: ledger.state.periodStart,
    ...(end ? { periodEnd: end } : {}),
    archivedPeriods: [...ledger.state.archive],
    learning: learningStatusOf(ledger),
    tokens: ledger.tokens.listed(),
  };
}

function spendViews(ledger: TenantLedger): Pick<TenantStatus, 'spendByModel' | 'spendByTag' | 'spendSeries'> {
  const b = ledger.breakdown();
  const inUsd = (group: Record<string, number>) =>
    Object.fromEntries(Object.entries(group).map(([key, micros]) => [key, usd(micros)]));
  return {
    spendByModel: inUsd(b.byModel),
    spendByTag: inUsd(b.byTag),
    spendSeries: b.series.map(([at, micros]) => ({ at, spentUsd: usd(micros) })),
  };
}

/** The few numbers the Web UI's budget gauge shows, without building the whole status. */
export function budgetGaugeOf(ledger: TenantLedger) {
  return {
    tenantId: ledger.config.tenantId,
    budgetStatus: ledger.budgetStatus(),
    budgetUsd: ledger.config.budgetUsd,
    spentUsd: usd(ledger.spentMicros()),
    utilization: ledger.utilization(),
    reservedUsd: usd(ledger.reservedMicros()),
    runsInFlight: ledger.state.inFlight.length,
    runsWaiting: ledger.state.waiting.length,
    maxConcurrentRuns: ledger.config.maxConcurrentRuns,
    periodStart: ledger.state.periodStart,
    periodEnd: ledger.currentPeriodEnd(),
    archivedPeriods: ledger.state.archive.length,
  };
}

/** The learning profile as the status query, the CLI and learning_profile.json show it. */
export function learningStatusOf(ledger: TenantLedger): LearningStatus {
  const l = ledger.learning.state;
  const config = ledger.config.learning;
  return {
    configuredIntensity: config.intensity,
    intensity: l.effectiveIntensity,
    metaLearningOptIn: config.metaLearningOptIn,
    metaLearningScope: config.metaLearningScope ?? 'placement',
    budgetShare: ledger.learning.share(),
    learningBudgetUsd: usd(ledger.learning.learningBudgetMicros(ledger.budgetMicros())),
    learningSpentUsd: usd(ledger.learningSpentMicros()),
    learningReservedUsd: usd(ledger.learning.reservedMicros()),
    explorationRate: config.explorationRates[l.effectiveIntensity],
    costModel: Object.entries(l.costModel).flatMap(([key, entry]) =>
      (['ratio', 'absolute'] as const).flatMap((basis) => {
        const stat = entry[basis];
        const prior = entry.prior?.[basis];
        if (!stat && !prior) return [];
        return [
          {
            key,
            basis,
            mean: stat?.mean ?? 0,
            stdDev: stat ? stdDev(stat) : 0,
            samples: stat?.n ?? 0,
            ...(prior ? { prior: prior.value } : {}),
          },
        ];
      }),
    ),
    tokenModel: [
      ...(['output', 'input', 'prompt', 'cost'] as const).flatMap((family) =>
        Object.entries(l.tokens?.[family] ?? {}).map(([key, sketch]) => {
          const q = sketchQuantiles(sketch);
          return { family, key, p5: round4(q.p5), p50: round4(q.p50), p95: round4(q.p95), samples: q.count };
        }),
      ),
      ...Object.entries(l.tokenPriors ?? {}).map(([key, histogram]) => {
        const q = histogramQuantiles(histogram, 0);
        return { family: 'prior' as const, key, p5: round4(q.p5), p50: round4(q.p50), p95: round4(q.p95), samples: 0 };
      }),
    ],
    evidence: Object.values(l.evidence).map((e) => ({
      kind: e.kind,
      fromModel: e.fromModel,
      toModel: e.toModel,
      ...summarizeEvidence(e),
    })),
    preferences: Object.values(l.preferences),
    priorsVersion: l.priorsVersion,
    history: [...l.history],
  };
}
