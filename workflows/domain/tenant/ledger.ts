import { COST_CATEGORIES, type CostCategory, toMicros, usd } from '../pricing/catalog';
import { LearningProfile, createLearningState, type LearningState } from '../learning/profile';
import { TenantTokens, type ApiToken } from './api-tokens';
import { budgetStatus, type BudgetStatus } from './budget-status';
import {
  ARCHIVED_PERIODS_KEPT,
  lastPeriodEndBy,
  periodEnd,
  periodStartFor,
  type ArchivedPeriod,
} from './budget-period';
import { mergeTenantConfig, tenantConfigSchema, type TenantConfig, type TenantConfigPatch } from './tenant-config';
import {
  emptyAlertState,
  raiseDue,
  settle as settleAlert,
  type AlertRecord,
  type AlertSettlement,
  type AlertState,
} from '../alerts/budget-alerts';
import type {
  AdmissionDecision,
  AdmissionReply,
  AdmissionRequest,
  AdmissionTicket,
  CostEvent,
  ExplorationReport,
  ExplorationRequest,
  InFlightRun,
  LeaseGrant,
  LeaseRequest,
  QuoteInputs,
  TenantPressure,
  WaitingRun,
} from './entity-payloads';

import { OTHER_KEY, addCharge, addSpendPoint, emptyBreakdown, type SpendBreakdown } from './spend-breakdown';
import {
  AdmissionBlocks,
  type AdmissionBlockState,
  type BlockGrant,
  type BlockLeaseRequest,
  type BlockRun,
  type BlockUse,
} from '../admission/blocks';
import type { RunLearning } from '../learning/profile';

/**
 * The money a newly admitted run's first lease asks for, whoever admits it (the entity, or a starter
 * from a block): its estimate, or for a tenant that leases at p95 its quoted 95th percentile where
 * the run gave one.
 */
export function firstLeaseMicros(
  leaseAt: string | undefined,
  request: Pick<AdmissionRequest, 'estimatedMicros' | 'p95Micros'>,
): number {
  const estimate = request.estimatedMicros ?? 0;
  return leaseAt === 'p95' ? Math.max(estimate, request.p95Micros ?? 0) : estimate;
}

/** The entity's answer to a starter's block lease request: a new block, or why none. */
export interface BlockLeaseAnswer {
  grant?: BlockGrant & {
    budgetStatus: BudgetStatus;
    dedicatedQueue: boolean;
    /** How the starter sizes each run's lease, as the entity would: its estimate, or its p95. */
    leaseAt: 'estimate' | 'p95';
    /** The tenant's pressure when the block was granted, for its runs' first CostAgent decisions. */
    pressure: TenantPressure;
    /** The learning profile its runs start with (each explores if its slot is in `explore`). */
    learning: RunLearning;
  };
  /** Why no block was granted: the starter asks for each run's admission instead. */
  none?: string;
  /**
   * Blocks of this starter it must no longer admit from (the tenant's settings changed, or it is
   * over budget); it hands them back with its next message.
   */
  revoked?: string[];
}

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
}

/**
 * How many cost keys the entity remembers. A repeat of a key older than this would be charged
 * again; runs report each node once from workflow code, so repeats only come from a replayed or
 * reset run shortly after the original, well within this window.
 */
export const CHARGED_KEYS_KEPT = 20_000;

/**
 * The rules of one tenant's budget and admission, free of Temporal calls so that they can be
 * unit-tested; the tenantBudget workflow maps its messages onto these methods.
 */
export class TenantLedger {
  private readonly charged: Set<string>;
  readonly learning: LearningProfile;
  readonly tokens: TenantTokens;

  constructor(readonly state: TenantLedgerState) {
    this.charged = new Set(state.chargedKeys);
    state.learning ??= createLearningState(state.config.learning);
    this.learning = new LearningProfile(state.learning, () => this.config.learning);
    this.tokens = new TenantTokens(state);
  }

  static create(config: TenantConfig, now: string): TenantLedger {
    return new TenantLedger({
      config,
      spentMicros: {},
      chargedKeys: [],
      chargedEvents: 0,
      inFlight: [],
      waiting: [],
      periodStart: periodStartFor(now, config),
      archive: [],
      learning: createLearningState(config.learning),
    });
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

  /** A shadow of one of this tenant's runs asks for learning money; returns what was granted (0 = denied). */
  requestExploration(request: ExplorationRequest, now: string): number {
    return this.learning.grantExploration(
      request.explorationId,
      request.requestMicros,
      this.learningAvailableMicros(),
      now,
      request,
    );
  }

  /** A shadow ended: charge its costs to the learning category, free what it did not spend, learn from it. */
  settleExploration(report: ExplorationReport, now: string): void {
    this.recordCosts(
      report.costs.map((c) => ({ ...c, category: 'learning' as const })),
      now,
    );
    this.learning.settleExploration(report.explorationId, report.observation, now, report);
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
  private grant(run: InFlightRun, requestMicros: number, seq: number): LeaseGrant {
    run.grantedMicros += Math.min(Math.max(0, requestMicros), this.availableMicros());
    return { runId: run.runId, grantedMicros: run.grantedMicros, pressure: this.pressureFor(run.runId), seq };
  }

  /**
   * A run's lease ran short: charge the costs it brings, then authorise what is available of what
   * it asks. Unknown runs (already released) get an empty grant rather than money.
   */
  topUpLease(request: LeaseRequest, now: string): LeaseGrant {
    this.recordCosts(request.costs, now);
    // A run admitted from a block may ask before its starter reported it.
    if (request.block) this.takeFromBlock({ ...request.block, runId: request.runId }, now);
    const run = this.state.inFlight.find((r) => r.runId === request.runId);
    if (!run)
      return { runId: request.runId, grantedMicros: 0, pressure: this.pressureFor(request.runId), seq: request.seq };
    run.estRemainingMicros = Math.max(0, request.estRemainingMicros);
    return this.grant(run, request.requestMicros, request.seq);
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
  private keptBreakdown(): SpendBreakdown {
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

  /** Runs that may start now: below the limit, and only urgent ones once backpressure applies. */
  private hasRoomFor(priority: number): boolean {
    const active = this.activeSlots();
    if (active >= this.config.maxConcurrentRuns) return false;
    const underPressure = active >= this.config.backpressureThreshold * this.config.maxConcurrentRuns;
    return !underPressure || priority <= 2;
  }

  /** Asks to run; a repeated request for the same run gets the same answer again. */
  requestAdmission(request: AdmissionRequest, now: string): AdmissionDecision {
    const existing = this.state.inFlight.find((r) => r.runId === request.runId);
    if (existing) return this.admitted(existing, 0);
    const waitingIndex = this.state.waiting.findIndex((w) => w.runId === request.runId);
    if (waitingIndex >= 0) return { kind: 'WAITING', runId: request.runId, position: waitingIndex + 1 };
    if (this.budgetStatus() === 'EXCEEDED') {
      return {
        kind: 'REJECTED',
        code: 'BUDGET_EXCEEDED',
        runId: request.runId,
        reason: `budget exceeded: spent $${usd(this.spentMicros()).toFixed(6)} of $${this.config.budgetUsd} this period`,
      };
    }
    // Waiting runs of the same or more urgent priority go first, so a newcomer never jumps the queue.
    const queuedAhead = this.state.waiting.some((w) => w.priority <= request.priority);
    if (!queuedAhead && this.hasRoomFor(request.priority)) return this.admit(request, now);
    this.state.waiting.push({ ...request, requestedAt: now });
    this.sortWaiting();
    return {
      kind: 'WAITING',
      runId: request.runId,
      position: this.state.waiting.findIndex((w) => w.runId === request.runId) + 1,
    };
  }

  /**
   * Admission asked in a run's launch: ADMITTED (with its first lease) or REJECTED at once. A run
   * that would have to wait is queued (WAITING) when it exists already (`started`: its own worker
   * asks); one not yet started is told QUEUE without being queued, and queues itself when it
   * starts, so the entity never answers a run that does not exist yet. A repeat gets the same answer.
   */
  admitNow(request: AdmissionRequest, now: string): AdmissionTicket | { kind: 'QUEUE'; runId: string } {
    const existing = this.state.inFlight.find((r) => r.runId === request.runId);
    if (existing) return this.admitted(existing, 0) as AdmissionTicket;
    const queuedAhead = this.state.waiting.some((w) => w.runId === request.runId || w.priority <= request.priority);
    if (!request.started && this.budgetStatus() !== 'EXCEEDED' && (queuedAhead || !this.hasRoomFor(request.priority)))
      return { kind: 'QUEUE', runId: request.runId };
    return this.requestAdmission(request, now);
  }

  private admit(request: AdmissionRequest, now: string): AdmissionDecision {
    const run = this.holdRun(request, now);
    return this.admitted(run, firstLeaseMicros(this.config.leaseAt, request), true);
  }

  /** The admission answer; a new admission (not a repeat) also takes its turn at exploring. */
  private admitted(run: InFlightRun, requestMicros: number, newAdmission = false): AdmissionDecision {
    // The lease is granted first, so a shadow's money never competes with the real run's.
    const lease = this.grant(run, requestMicros, 0);
    // A repeat (the starter asked again: a retried activity, a lost answer) is told what the first was.
    const explore = newAdmission
      ? this.learning.nextRunExplores(this.learningAvailableMicros() > 0)
      : run.explores === true;
    if (newAdmission && explore) run.explores = true;
    return {
      kind: 'ADMITTED',
      runId: run.runId,
      dedicatedQueue: this.config.dedicatedQueue,
      budgetStatus: this.budgetStatus(),
      lease,
      learning: this.learning.runLearning(explore),
    };
  }

  private sortWaiting(): void {
    // Array.prototype.sort is stable, so FIFO holds within a priority.
    this.state.waiting.sort((a, b) => a.priority - b.priority);
  }

  /**
   * Charges a run's last costs, then frees its slot and its unspent reservation (or its place in the
   * queue). A run admitted from a block that its starter has not reported yet frees its slot and
   * lease in the block. Idempotent.
   */
  releaseRun(
    runId: string,
    costs: CostEvent[],
    now: string,
    block?: { blockId: string; leaseMicros: number },
  ): boolean {
    this.recordCosts(costs, now);
    const before = this.state.inFlight.length + this.state.waiting.length;
    this.state.inFlight = this.state.inFlight.filter((r) => r.runId !== runId);
    this.state.waiting = this.state.waiting.filter((r) => r.runId !== runId);
    const released = this.state.inFlight.length + this.state.waiting.length < before;
    if (!released && block) this.blocks().releaseUnreported(block.blockId, runId, block.leaseMicros);
    return released;
  }

  /**
   * A starter's block lease request, in order: the runs it started from its blocks become runs in
   * flight holding the leases it gave them; the blocks it hands back free what was not used; then a
   * new block, of what room and money there is. No block while runs wait for admission (a block
   * would let later runs overtake them), above the backpressure threshold (where the entity decides
   * by priority), or once the budget is exceeded: the starter then asks for each run.
   */
  leaseBlocks(request: BlockLeaseRequest, now: string): BlockLeaseAnswer {
    const blocks = this.blocks(request.used.length > 0 || request.want !== undefined);
    for (const use of request.used) this.takeFromBlock(use, now);
    for (const blockId of request.handBack) this.learning.undoDraws(blocks.handBack(blockId));
    const exceeded = this.budgetStatus() === 'EXCEEDED';
    const revoked = blocks.revokedFor(request.starter, exceeded);
    const answer = (a: BlockLeaseAnswer): BlockLeaseAnswer => (revoked.length > 0 ? { ...a, revoked } : a);
    if (!request.want) return answer({ none: 'no block asked for' });
    if (exceeded) return answer({ none: 'budget exceeded' });
    if (this.state.waiting.length > 0) return answer({ none: 'runs are waiting for admission' });
    const room = Math.floor(this.config.backpressureThreshold * this.config.maxConcurrentRuns) - this.activeSlots();
    const canAfford = this.learningAvailableMicros() > 0;
    const grant = blocks.grant(request.want, request.starter, room, this.availableMicros(), now, {
      draw: this.learning.explorationDraw(canAfford),
      next: () => this.learning.nextRunExplores(canAfford),
    });
    if (!grant) return answer({ none: room <= 0 ? 'no room below the backpressure threshold' : 'no money available' });
    return answer({
      grant: {
        ...grant,
        budgetStatus: this.budgetStatus(),
        dedicatedQueue: this.config.dedicatedQueue,
        leaseAt: this.config.leaseAt === 'p95' ? 'p95' : 'estimate',
        pressure: this.pressureFor(''),
        learning: this.learning.runLearning(false),
      },
    });
  }

  /**
   * Visibility's list of the runs started from an expired block its starter never handed back. A
   * closed run whose release never came is held as a run in flight (no lease) until the export
   * sweep releases it with the costs of its result.
   */
  reconcileBlock(blockId: string, started: readonly BlockRun[], now: string): void {
    for (const run of this.blocks().reconcile(blockId, started))
      if (!this.state.inFlight.some((r) => r.runId === run.runId)) this.holdRun({ ...run, priority: 3 }, now);
  }

  /** A run of a starter's block, reported (by its starter, or by the run itself): it holds a slot and its lease of its own now. */
  private takeFromBlock(use: BlockUse, now: string): void {
    if (this.state.inFlight.some((r) => r.runId === use.runId) || !this.blocks(true).take(use)) return;
    this.holdRun(use, now).grantedMicros = use.leaseMicros;
  }

  /** A run that holds a slot from now on, with no money granted yet. */
  private holdRun(
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

  /**
   * Admits waiting runs while there is room, most urgent first; returns the decisions to send.
   * An EXCEEDED tenant rejects its waiting runs instead of leaving them queued forever.
   */
  admitWaiting(now: string): AdmissionReply[] {
    const replies: AdmissionReply[] = [];
    if (this.budgetStatus() === 'EXCEEDED') {
      for (const w of this.state.waiting.splice(0)) {
        replies.push({
          workflowId: w.workflowId,
          decision: {
            kind: 'REJECTED',
            code: 'BUDGET_EXCEEDED',
            runId: w.runId,
            reason: 'budget exceeded while waiting for admission',
          },
        });
      }
      return replies;
    }
    while (this.state.waiting.length > 0 && this.hasRoomFor(this.state.waiting[0]!.priority)) {
      const next = this.state.waiting.shift()!;
      replies.push({ workflowId: next.workflowId, decision: this.admit(next, now) });
    }
    return replies;
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

  /**
   * Budget alerts due now (thresholds, exceeded, the periods in `rolled`, a projected exhaustion,
   * with `countCommitted` counting what the runs in flight are predicted to spend still), each at
   * most once per period; none for a tenant without alerts configured.
   */
  raiseAlerts(now: string, rolled: readonly ArchivedPeriod[], countCommitted = false): AlertRecord[] {
    const config = this.config.alerts;
    if (!config) return [];
    this.state.alerts ??= emptyAlertState();
    return raiseDue(
      config,
      {
        tenantId: this.config.tenantId,
        budgetMicros: this.budgetMicros(),
        spentMicros: this.spentMicros(),
        periodStart: this.state.periodStart,
        periodEnd: this.currentPeriodEnd(),
        now,
        ...(countCommitted ? { committedMicros: this.committedMicros() } : {}),
      },
      rolled,
      this.state.alerts,
    );
  }

  settleAlert(settlement: AlertSettlement): void {
    if (this.state.alerts) settleAlert(this.state.alerts, settlement);
  }

  quoteInputs(): QuoteInputs {
    const { costModel, preferences, tokens } = this.learning.runLearning(false);
    const rates = this.config.negotiatedRates ?? {};
    return {
      learning: { costModel, preferences, ...(tokens ? { tokens } : {}) },
      ...(Object.keys(rates).length > 0 ? { negotiatedRates: rates } : {}),
      leaseAt: this.config.leaseAt ?? 'estimate',
    };
  }
}
