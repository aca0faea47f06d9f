/** A tenant's learning profile. */
import {
  emptyTokenModel,
  learnTokens,
  tokenQuantiles,
  type NodeFeatures,
  type TokenQuantiles,
} from '../prediction/token-model';
import { learnCost, observe, emptyStat, type CostSample } from '../prediction/cost-model';
import type { BudgetStatus } from '../tenant/budget-status';
import { formatUsd, usd } from '../pricing/catalog';
import {
  LEARNING_EVENTS_KEPT,
  type LearningConfig,
  type LearningEvent,
  type LearningState,
  type RunLearning,
  type ShadowObservation,
  type VariantEvidence,
} from './learning-state';
import { evidenceKey, hasProvenItself, preferenceKey, summarizeEvidence } from './evidence';
import { INTENSITIES, type Intensity } from './intensity';

/**
 * A tenant's learning profile: how much of its budget may go to learning, how often runs explore a
 * cheaper variant in shadow, what the shadows proved, and the learned cost model. Pure rules; the
 * tenantBudget entity keeps the state and maps messages onto them.
 */

export { DEFAULT_BUDGET_SHARES, DEFAULT_EXPLORATION_RATES, INTENSITIES, type Intensity } from './intensity';
export * from './learning-state';
export * from './evidence';

const LEVEL: Record<Intensity, number> = { CONSERVATIVE: 0, BALANCED: 1, AGGRESSIVE: 2 };

/** The intensity the budget status allows: one level down at WARNING, CONSERVATIVE from CRITICAL on. */
export function allowedIntensity(configured: Intensity, status: BudgetStatus): Intensity {
  if (status === 'CRITICAL' || status === 'EXCEEDED') return 'CONSERVATIVE';
  if (status === 'WARNING') return INTENSITIES[Math.max(0, LEVEL[configured] - 1)]!;
  return configured;
}

/**
 * The learning half of a tenant's ledger. `spentMicros` and `budgetMicros` come from the ledger,
 * whose `learning` spend category is the learning spend.
 */
export class LearningProfile {
  private quantiles: TokenQuantiles | undefined;

  constructor(
    readonly state: LearningState,
    private config: () => LearningConfig,
  ) {}

  private log(at: string, event: DistributiveOmit<LearningEvent, 'seq' | 'at'>): void {
    this.state.history.push({ ...event, seq: ++this.state.historySeq, at } as LearningEvent);
    this.state.history.splice(0, Math.max(0, this.state.history.length - LEARNING_EVENTS_KEPT));
  }

  share(): number {
    return this.config().budgetShares[this.state.effectiveIntensity];
  }

  learningBudgetMicros(budgetMicros: number): number {
    return Math.floor(budgetMicros * this.share());
  }

  reservedMicros(): number {
    return Object.values(this.state.reservations).reduce((a, b) => a + b, 0);
  }

  /** Learning money neither spent nor granted to a shadow. */
  availableMicros(budgetMicros: number, learningSpentMicros: number): number {
    return Math.max(0, this.learningBudgetMicros(budgetMicros) - learningSpentMicros - this.reservedMicros());
  }

  /**
   * Follows the budget status within a period: the intensity only ever steps down (WARNING one
   * level, CRITICAL to CONSERVATIVE) until a new period or a config change restores it.
   */
  adjustIntensity(status: BudgetStatus, at: string): void {
    const allowed = allowedIntensity(this.config().intensity, status);
    if (LEVEL[allowed] < LEVEL[this.state.effectiveIntensity])
      this.setIntensity(allowed, at, `budget status ${status}`);
  }

  /** A new period or a new configured level: back to what the config and the status allow. */
  restoreIntensity(status: BudgetStatus, at: string, reason: string): void {
    const allowed = allowedIntensity(this.config().intensity, status);
    if (allowed !== this.state.effectiveIntensity)
      this.setIntensity(allowed, at, status === 'HEALTHY' ? reason : `${reason}; budget status ${status}`);
  }

  private setIntensity(to: Intensity, at: string, reason: string): void {
    this.log(at, { type: 'intensity', from: this.state.effectiveIntensity, to, reason });
    this.state.effectiveIntensity = to;
  }

  /** What each run admitted now adds to the exploration credit: the current rate, or 0 when none may explore. */
  explorationDraw(canAfford: boolean): number {
    const rate = this.config().explorationRates[this.state.effectiveIntensity];
    return rate > 0 && canAfford ? rate : 0;
  }

  /** Whether the run being admitted explores: a deterministic share of runs, at the current rate. */
  nextRunExplores(canAfford: boolean): boolean {
    const rate = this.explorationDraw(canAfford);
    if (rate === 0) return false;
    this.state.explorationCredit += rate;
    if (this.state.explorationCredit < 1) return false;
    this.state.explorationCredit -= 1;
    return true;
  }

  /**
   * Draws made for runs that never started (a block's unused slots) are undone: `explorations` of
   * them were to explore, and each added `draw` to the credit. The runs admitted next then explore
   * as they would have had the unused slots never been drawn.
   */
  undoDraws(unused: { slots: number; explorations: number; draw?: number }): void {
    this.state.explorationCredit += unused.explorations - unused.slots * (unused.draw ?? 0);
  }

  /**
   * A shadow asks for learning money: granted only if its whole estimate fits what is left of the
   * learning share, and never while the intensity is CONSERVATIVE.
   */
  grantExploration(
    explorationId: string,
    requestMicros: number,
    available: number,
    at: string,
    who: { runId: string; nodeId: string },
  ): number {
    if (explorationId in this.state.reservations) return this.state.reservations[explorationId]!;
    const rate = this.config().explorationRates[this.state.effectiveIntensity];
    if (rate <= 0 || requestMicros <= 0 || requestMicros > available) {
      this.log(at, {
        type: 'exploration-denied',
        ...who,
        reason:
          rate <= 0
            ? `intensity ${this.state.effectiveIntensity} does not explore`
            : `the learning budget has ${formatUsd(available)} left, the shadow needs ${formatUsd(requestMicros)}`,
      });
      return 0;
    }
    this.state.reservations[explorationId] = requestMicros;
    return requestMicros;
  }

  /** A shadow finished (or gave up): its reservation goes, and what it showed becomes evidence. */
  /** An exploration that will never report (its run is gone): its reserved learning money returns. */
  dropExploration(explorationId: string): void {
    delete this.state.reservations[explorationId];
  }

  settleExploration(
    explorationId: string,
    observation: ShadowObservation | undefined,
    at: string,
    who: { runId: string; nodeId: string; costs?: ReadonlyArray<{ costMicros: number }> },
  ): void {
    if (!(explorationId in this.state.reservations)) return;
    delete this.state.reservations[explorationId];
    if (!observation) return;
    const complete = observation.qualityFull !== undefined && observation.qualityShadow !== undefined;
    const chargedMicros = (who.costs ?? []).reduce((sum, c) => sum + c.costMicros, 0);
    this.log(at, {
      type: 'exploration',
      runId: who.runId,
      nodeId: who.nodeId,
      fromModel: observation.fromModel,
      toModel: observation.toModel,
      ...(complete ? { qualityFull: observation.qualityFull, qualityShadow: observation.qualityShadow } : {}),
      costFullUsd: usd(observation.costFullMicros),
      costShadowUsd: usd(observation.costShadowMicros),
      chargedUsd: usd(chargedMicros),
      reason: complete ? 'shadow scored against the same reference' : 'shadow cut short by its learning budget',
    });
    if (!complete) return;
    const key = evidenceKey(observation.kind, observation.fromModel, observation.toModel);
    const e = (this.state.evidence[key] ??= {
      kind: observation.kind,
      fromModel: observation.fromModel,
      toModel: observation.toModel,
      qualityFull: emptyStat(),
      qualityShadow: emptyStat(),
      costFull: emptyStat(),
      costShadow: emptyStat(),
    });
    e.qualityFull = observe(e.qualityFull, observation.qualityFull!);
    e.qualityShadow = observe(e.qualityShadow, observation.qualityShadow!);
    e.costFull = observe(e.costFull, observation.costFullMicros);
    e.costShadow = observe(e.costShadow, observation.costShadowMicros);
    this.reviewPreference(e, at);
  }

  /** Adopts a cheaper model once it has proven itself, and withdraws it if later evidence disagrees. */
  private reviewPreference(e: VariantEvidence, at: string): void {
    const key = preferenceKey(e.kind, e.fromModel);
    const current = this.state.preferences[key];
    const proven = hasProvenItself(e, this.config());
    const evidence = summarizeEvidence(e);
    const { qualityTolerance, minSamples } = this.config();
    if (proven && current?.toModel !== e.toModel) {
      this.state.preferences[key] = { kind: e.kind, fromModel: e.fromModel, toModel: e.toModel, since: at, evidence };
      this.log(at, {
        type: 'preference',
        kind: e.kind,
        fromModel: e.fromModel,
        toModel: e.toModel,
        adopted: true,
        evidence,
        reason: `${e.toModel} scored ${evidence.qualityShadow} vs ${evidence.qualityFull} (tolerance ${qualityTolerance}) over ${evidence.samples} samples (≥ ${minSamples}) at ${pct(evidence.costShadowUsd, evidence.costFullUsd)} of the cost`,
      });
    } else if (proven && current) {
      current.evidence = evidence;
    } else if (!proven && current?.toModel === e.toModel) {
      delete this.state.preferences[key];
      this.log(at, {
        type: 'preference',
        kind: e.kind,
        fromModel: e.fromModel,
        toModel: e.toModel,
        adopted: false,
        evidence,
        reason: `${e.toModel} no longer within tolerance: ${evidence.qualityShadow} vs ${evidence.qualityFull}`,
      });
    }
  }

  learnCost(sample: CostSample): void {
    learnCost(this.state.costModel, sample);
  }

  learnTokens(kind: string, model: string | undefined, features: NodeFeatures, costMicros?: number): void {
    learnTokens((this.state.tokens ??= emptyTokenModel()), kind, model, features, costMicros);
    this.quantiles = undefined;
  }

  /** The token model's quantiles, computed once per change. */
  private tokenQuantiles(): TokenQuantiles | undefined {
    if (!this.state.tokens && !this.state.tokenPriors) return undefined;
    return (this.quantiles ??= tokenQuantiles(this.state.tokens ?? emptyTokenModel(), this.state.tokenPriors));
  }

  samples(): number {
    return Object.values(this.state.costModel).reduce((sum, e) => sum + (e.ratio?.n ?? 0) + (e.absolute?.n ?? 0), 0);
  }

  /** Published priors, per key and basis; a newer version replaces the older one. */
  applyPriors(
    version: number,
    priors: Record<string, { ratio?: number; absolute?: number }>,
    weight: number,
    at: string,
    tokens?: Record<string, number[]>,
  ): void {
    if (version <= this.state.priorsVersion) return;
    this.state.priorsVersion = version;
    if (tokens) {
      this.state.tokenPriors = tokens;
      this.quantiles = undefined;
    }
    for (const [key, prior] of Object.entries(priors)) {
      const entry = (this.state.costModel[key] ??= {});
      entry.prior = {
        ...(prior.ratio !== undefined ? { ratio: { value: prior.ratio, weight } } : {}),
        ...(prior.absolute !== undefined ? { absolute: { value: prior.absolute, weight } } : {}),
      };
    }
    this.log(at, {
      type: 'priors',
      version,
      keys: Object.keys(priors).length,
      reason: 'cross-tenant priors published by meta-learning',
    });
  }

  noteMetaLearning(optIn: boolean, at: string, samples?: number): void {
    this.log(at, {
      type: 'meta-learning',
      optIn,
      ...(samples !== undefined ? { samples } : {}),
      reason: optIn
        ? samples !== undefined
          ? 'contributed cost statistics to the priors'
          : 'opted in to cross-tenant priors'
        : 'opted out: no further contributions; past releases keep what they had',
    });
  }

  runLearning(explore: boolean): RunLearning {
    const tokens = this.tokenQuantiles();
    return {
      explore,
      costModel: this.state.costModel,
      preferences: this.state.preferences,
      ...(tokens ? { tokens } : {}),
    };
  }
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(0)}%` : 'n/a';
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
