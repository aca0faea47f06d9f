/** A tenant's ledger state and its money: configuration, charges, leases, spend and periods. */
import { COST_CATEGORIES, type CostCategory, toMicros, usd } from '../pricing/catalog';
import { LearningProfile, createLearningState, type LearningState } from '../learning/profile';
import { TenantTokens, type ApiToken } from './api-tokens';
import { budgetStatus, type BudgetStatus } from './budget-status';
import { ARCHIVED_PERIODS_KEPT, lastPeriodEndBy, periodEnd, type ArchivedPeriod } from './budget-period';
import { mergeTenantConfig, tenantConfigSchema, type TenantConfig, type TenantConfigPatch } from './tenant-config';
import type { AlertState } from '../alerts/budget-alerts';
import type { CostEvent, InFlightRun, LeaseGrant, TenantPressure, WaitingRun } from './entity-payloads';

import { OTHER_KEY, addCharge, addSpendPoint, emptyBreakdown, type SpendBreakdown } from './spend-breakdown';
import { AdmissionBlocks, type AdmissionBlockState } from '../admission/blocks';

/** Everything the entity carries across continue-as-new. */
export interface TenantLedgerState {
  config: TenantConfig;
  spentMicros: Partial<Record<CostCategory, number>>;
  /** Recent idempotency keys, oldest first; bounded so the state stays small. */
  chargedKeys: string[];
  chargedEvents: number;
  inFlight: InFlightRun[];
  waiting: WaitingRun[];
  periodStart: string;
  /** The most recent archived periods, newest last. */
  archive: ArchivedPeriod[];
  /** Absent in states written before learning existed; created on load. */
  learning?: LearningState;
  /** API tokens of this tenant: only their SHA-256 hashes are ever stored. */
  tokens?: ApiToken[];
  /** Budget alerts raised and their delivery; absent until the tenant configures alerts. */
  alerts?: AlertState;
  /** This period's spend by model and tag, and over time; absent in states written before it was kept. */
  breakdown?: SpendBreakdown;
  /** Admission blocks leased to starters; absent until a starter leases one. */
  blocks?: AdmissionBlockState[];
  /**
   * The runs released lately, oldest first, at most `RELEASED_RUNS_KEPT`: a lease request from one
   * of them arriving after its release (sent again across a failover) does not hold its slot again.
   * Absent in entities that do not keep it (recorded before it was kept).
   */
  released?: string[];
  /**
   * Where the tenant moved (`ados tenant move-in`, its destination as the operator named it): it
   * admits no new run and leases no block, while the runs it admitted end here; absent while it has not.
   */
  movedTo?: string;
  /** When it was asked to move: runs whose workflows started before are still taken, until it hands over. */
  movedAt?: string;
  /** Its state went to the deployment it moved to: from then on it takes no run at all. */
  handedOver?: boolean;
}

/** How many released runs the entity remembers; a late lease request comes within minutes of its release. */
export const RELEASED_RUNS_KEPT = 2_000;

/**
 * How many cost keys the entity remembers. A repeat of a key older than this would be charged
 * again; runs report each node once from workflow code, so repeats only come from a replayed or
 * reset run shortly after the original, well within this window.
 */
export const CHARGED_KEYS_KEPT = 20_000;

/**
 * The money side of one tenant's ledger: its configuration, charges (each cost key once), leases
 * to runs in flight, spend by period and the pressure runs see. Admission (workflows/domain/admission/)
 * and the tenant's other rules build on it (./ledger.ts: TenantLedger). Free of Temporal calls.
 */
export class TenantLedgerCore {
  private readonly charged: Set<string>;

  readonly learning: LearningProfile;

  readonly tokens: TenantTokens;

  constructor(readonly state: TenantLedgerState) {
    this.charged = new Set(state.chargedKeys);
    state.learning ??= createLearningState(state.config.learning);
    this.learning = new LearningProfile(state.learning, () => this.config.learning);
    this.tokens = new TenantTokens(state);
  }

  get config(): TenantConfig {
    return this.state.config;
  }

  configure(patch: TenantConfigPatch, now: string): TenantConfig {
    const before = this.state.config.learning;
    const merged = tenantConfigSchema.parse(mergeTenantConfig(this.state.config, patch));
    this.state.config = merged;
    if (this.state.blocks) this.blocks().revokeAll();
    if (merged.learning.intensity !== before.intensity)
      this.learning.restoreIntensity(this.budgetStatus(), now, `configured intensity ${merged.learning.intensity}`);
    else this.learning.adjustIntensity(this.budgetStatus(), now);
    if (merged.learning.metaLearningOptIn !== before.metaLearningOptIn)
      this.learning.noteMetaLearning(merged.learning.metaLearningOptIn, now);
    return merged;
  }

  budgetMicros(): number {
    return toMicros(this.config.budgetUsd);
  }

  reservation(run: InFlightRun): number {
    return Math.max(0, run.grantedMicros - run.reportedMicros);
  }

  /** Money authorised and not yet spent: runs' lease remainders and shadows' learning grants. */
  reservedMicros(): number {
    return (
      this.state.inFlight.reduce((sum, run) => sum + this.reservation(run), 0) +
      this.learning.reservedMicros() +
      this.blocks().micros()
    );
  }

  /** The blocks leased to starters (`create`: keep a list in the state for new ones). */
  blocks(create = false): AdmissionBlocks {
    if (create) this.state.blocks ??= [];
    return new AdmissionBlocks(this.state.blocks ?? []);
  }

  /** Runs in flight and slots held by blocks: what counts against the concurrency limit. */
  activeSlots(): number {
    return this.state.inFlight.length + this.blocks().slots();
  }

  learningSpentMicros(): number {
    return this.state.spentMicros.learning ?? 0;
  }

  /** Learning money a shadow may still be granted: within the learning share and within the budget. */
  learningAvailableMicros(): number {
    return Math.min(
      this.learning.availableMicros(this.budgetMicros(), this.learningSpentMicros()),
      this.availableMicros(),
    );
  }

  /** Money neither spent nor authorised to a run. */
  availableMicros(): number {
    return Math.max(0, this.budgetMicros() - this.spentMicros() - this.reservedMicros());
  }

  /**
   * Money the runs in flight (other than `except`) are predicted to spend still, each its own
   * projection of its remaining nodes but never less than its unspent lease, and shadows' grants.
   */
  committedMicros(except?: string): number {
    return (
      this.state.inFlight
        .filter((r) => r.runId !== except)
        .reduce((sum, r) => sum + Math.max(this.reservation(r), r.estRemainingMicros), 0) +
      this.learning.reservedMicros() +
      this.blocks().micros()
    );
  }

  pressureFor(runId: string): TenantPressure {
    const othersCommittedMicros = this.committedMicros(runId);
    return {
      budgetMicros: this.budgetMicros(),
      spentMicros: this.spentMicros(),
      othersCommittedMicros,
      activeRuns: this.activeSlots(),
      maxConcurrentRuns: this.config.maxConcurrentRuns,
      backpressureThreshold: this.config.backpressureThreshold,
      thresholds: this.config.thresholds,
      budgetStatus: this.budgetStatus(),
      // Configs from before negotiated rates have none.
      ...(Object.keys(this.config.negotiatedRates ?? {}).length > 0
        ? { negotiatedRates: this.config.negotiatedRates }
        : {}),
    };
  }

  /** Authorises up to `requestMicros` more to a run, never more than the money still available. */
  protected grant(run: InFlightRun, requestMicros: number, seq: number): LeaseGrant {
    run.grantedMicros += Math.min(Math.max(0, requestMicros), this.availableMicros());
    return { runId: run.runId, grantedMicros: run.grantedMicros, pressure: this.pressureFor(run.runId), seq };
  }

  /** Charges a batch of cost events, each key once, and learns from them; the learning intensity follows the budget status. */
  recordCosts(events: CostEvent[], now: string): number {
    let charged = 0;
    for (const event of events) if (this.recordCost(event)) charged++;
    if (charged > 0) {
      this.learning.adjustIntensity(this.budgetStatus(), now);
      addSpendPoint(this.keptBreakdown(), now, this.spentMicros());
    }
    return charged;
  }

  spentMicros(): number {
    return Object.values(this.state.spentMicros).reduce((sum, v) => sum + (v ?? 0), 0);
  }

  /**
   * This period's spend by model, tag and over time. States from before it was kept start it with
   * the period's spend so far under OTHER_KEY. Read-only: queries use it too.
   */
  breakdown(): SpendBreakdown {
    return (
      this.state.breakdown ?? {
        ...emptyBreakdown(this.state.periodStart),
        ...(this.spentMicros() > 0 ? { byModel: { [OTHER_KEY]: this.spentMicros() } } : {}),
      }
    );
  }

  /** The breakdown to change, made part of the state. */
  protected keptBreakdown(): SpendBreakdown {
    return (this.state.breakdown ??= this.breakdown());
  }

  utilization(): number {
    return this.spentMicros() / toMicros(this.config.budgetUsd);
  }

  budgetStatus(): BudgetStatus {
    return budgetStatus(this.utilization(), this.config.thresholds);
  }

  /** Charges a cost event once; returns false for a repeat of a key already charged. */
  recordCost(event: CostEvent): boolean {
    if (this.charged.has(event.key)) return false;
    this.charged.add(event.key);
    this.state.chargedKeys.push(event.key);
    if (this.state.chargedKeys.length > CHARGED_KEYS_KEPT) {
      for (const old of this.state.chargedKeys.splice(0, this.state.chargedKeys.length - CHARGED_KEYS_KEPT))
        this.charged.delete(old);
    }
    addCharge(this.keptBreakdown(), event);
    this.state.spentMicros[event.category] = (this.state.spentMicros[event.category] ?? 0) + event.costMicros;
    this.state.chargedEvents++;
    const run = this.state.inFlight.find((r) => r.runId === event.runId);
    if (run) run.reportedMicros += event.costMicros;
    if (event.kind !== undefined)
      this.learning.learnCost({
        kind: event.kind,
        ...(event.model ? { model: event.model } : {}),
        estimateMicros: event.estimateMicros ?? 0,
        costMicros: event.costMicros,
      });
    if (event.kind !== undefined && event.features)
      this.learning.learnTokens(event.kind, event.model, event.features, event.costMicros);
    return true;
  }

  /** A run that holds a slot from now on, with no money granted yet. */
  protected holdRun(
    run: { runId: string; workflowId: string; priority: number; estimatedMicros?: number },
    now: string,
  ): InFlightRun {
    const held: InFlightRun = {
      runId: run.runId,
      workflowId: run.workflowId,
      priority: run.priority,
      admittedAt: now,
      grantedMicros: 0,
      reportedMicros: 0,
      estRemainingMicros: run.estimatedMicros ?? 0,
    };
    this.state.inFlight.push(held);
    return held;
  }

  currentPeriodEnd(): string | undefined {
    return periodEnd(this.state.periodStart, this.config);
  }

  /**
   * Archives every period that has ended by `now` and starts the next one. Spend restarts; runs in
   * flight keep their slots and reservations and are charged to the new period.
   */
  rolloverIfDue(now: string): ArchivedPeriod[] {
    const archived: ArchivedPeriod[] = [];
    for (let end = this.currentPeriodEnd(); end !== undefined && end <= now; end = this.currentPeriodEnd()) {
      const period: ArchivedPeriod = {
        start: this.state.periodStart,
        end,
        spentUsd: usd(this.spentMicros()),
        spendByCategory: this.spendByCategory(),
      };
      archived.push(period);
      this.state.archive.push(period);
      this.state.archive.splice(0, Math.max(0, this.state.archive.length - ARCHIVED_PERIODS_KEPT));
      this.state.spentMicros = {};
      delete this.state.breakdown;
      for (const run of this.state.inFlight) {
        // Their reservations carry into the new period as authorised, unspent money.
        run.grantedMicros = this.reservation(run);
        run.reportedMicros = 0;
      }
      this.state.periodStart = end;
      // Periods that ended with nothing spent in them (a long quiet gap, or a short period given to
      // a tenant whose period began long ago) are archived as one stretch: one step, not one per period.
      const idleEnd = lastPeriodEndBy(end, now, this.config);
      if (idleEnd !== undefined && idleEnd > end) {
        const stretch: ArchivedPeriod = { start: end, end: idleEnd, spentUsd: 0, spendByCategory: {} };
        archived.push(stretch);
        this.state.archive.push(stretch);
        this.state.archive.splice(0, Math.max(0, this.state.archive.length - ARCHIVED_PERIODS_KEPT));
        this.state.periodStart = idleEnd;
      }
      this.learning.restoreIntensity(this.budgetStatus(), this.state.periodStart, 'new budget period');
    }
    return archived;
  }

  /** Spend this period by category, in USD. */
  spendByCategory(): Partial<Record<CostCategory, number>> {
    const spend: Partial<Record<CostCategory, number>> = {};
    for (const category of COST_CATEGORIES) {
      const micros = this.state.spentMicros[category];
      if (micros) spend[category] = usd(micros);
    }
    return spend;
  }
}
