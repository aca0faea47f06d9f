import { z } from 'zod';
import { idSchema } from './ids';
import { COST_CATEGORIES, type CostCategory, toMicros, usd } from './catalog';
import { stdDev } from './cost-model';
import {
  LearningProfile,
  createLearningState,
  learningConfigSchema,
  type LearningEvent,
  type LearningState,
  type ModelPreference,
  type RunLearning,
  type ShadowObservation,
  type VariantEvidenceSummary,
  type Intensity,
  summarizeEvidence,
} from './learning';

export const tenantConfigSchema = z
  .object({
    tenantId: idSchema,
    /** Money the tenant may spend per period. @default 100 */
    budgetUsd: z.number().min(0.000001, 'must be at least $0.000001 (one micro-dollar)').max(1e9).default(100),
    /** @default 'monthly' */
    period: z.enum(['none', 'daily', 'monthly']).default('monthly'),
    /** A period of this many seconds instead of a calendar one: for tests and short demos. @default none */
    periodSeconds: z.number().int().min(1).max(31_536_000).optional(),
    /** @default 10 */
    maxConcurrentRuns: z.number().int().min(1).max(10_000).default(10),
    /** Share of maxConcurrentRuns above which only priority 1–2 runs are admitted at once. @default 0.8 */
    backpressureThreshold: z.number().gt(0).max(1).default(0.8),
    thresholds: z
      .object({ warning: z.number().gt(0).lt(1).default(0.7), critical: z.number().gt(0).lt(1).default(0.9) })
      .strict()
      .refine((t) => t.warning < t.critical, { message: 'warning must be below critical' })
      .default({ warning: 0.7, critical: 0.9 }),
    /** Run this tenant's nodes on `ados-tenant-{id}` instead of a shared partition. @default false */
    dedicatedQueue: z.boolean().default(false),
    /** Learning intensity, its budget shares and exploration rates, meta-learning opt-in (docs/LEARNING.md). */
    learning: learningConfigSchema.default(learningConfigSchema.parse({})),
  })
  .strict();

export type TenantConfigInput = z.input<typeof tenantConfigSchema>;
export type TenantConfig = z.output<typeof tenantConfigSchema>;

/** A change to an existing tenant: any subset of the fields, merged over the current config. */
export const tenantConfigPatchSchema = tenantConfigSchema.partial().extend({ tenantId: idSchema.optional() });
export type TenantConfigPatch = z.input<typeof tenantConfigPatchSchema>;

export type BudgetStatus = 'HEALTHY' | 'WARNING' | 'CRITICAL' | 'EXCEEDED';

export function budgetStatus(utilization: number, thresholds: TenantConfig['thresholds']): BudgetStatus {
  if (utilization >= 1) return 'EXCEEDED';
  if (utilization >= thresholds.critical) return 'CRITICAL';
  if (utilization >= thresholds.warning) return 'WARNING';
  return 'HEALTHY';
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
}

export interface AdmissionRequest {
  runId: string;
  workflowId: string;
  priority: number;
  /** The run's estimated full cost, which its first lease tries to cover. @default 0 */
  estimatedMicros?: number;
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
}

export type AdmissionDecision =
  | {
      kind: 'ADMITTED';
      runId: string;
      dedicatedQueue: boolean;
      budgetStatus: BudgetStatus;
      lease: LeaseGrant;
      learning?: RunLearning;
    }
  | { kind: 'WAITING'; runId: string; position: number }
  | { kind: 'REJECTED'; runId: string; reason: string };

/** An answer given before the run starts, which the run carries in its launch: it needs no admission message. */
export type AdmissionTicket = Extract<AdmissionDecision, { kind: 'ADMITTED' | 'REJECTED' }>;

export interface ArchivedPeriod {
  start: string;
  end: string;
  spentUsd: number;
  spendByCategory: Partial<Record<CostCategory, number>>;
}

/** A decision addressed to the run that asked for it. */
export interface AdmissionReply {
  workflowId: string;
  decision: AdmissionDecision;
}

export interface TenantStatus {
  tenantId: string;
  config: TenantConfig;
  budgetUsd: number;
  spentUsd: number;
  utilization: number;
  budgetStatus: BudgetStatus;
  spendByCategory: Partial<Record<CostCategory, number>>;
  runsInFlight: InFlightRun[];
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
}

export interface ApiToken {
  id: string;
  /** Hex SHA-256 of the token; the token itself is shown once, to whoever issued it, and never stored. */
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

/** Active tokens a tenant may hold at once; revoke one to issue another. */
export const MAX_ACTIVE_TOKENS = 20;

/** Archived periods kept in the entity's state; the exporter writes every one to a file. */
export const ARCHIVED_PERIODS_KEPT = 24;

/** When the period that started at `start` ends, or undefined for a tenant without periods. */
export function periodEnd(start: string, config: Pick<TenantConfig, 'period' | 'periodSeconds'>): string | undefined {
  const t = new Date(start);
  if (config.periodSeconds !== undefined) return new Date(t.getTime() + config.periodSeconds * 1000).toISOString();
  if (config.period === 'daily')
    return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1)).toISOString();
  if (config.period === 'monthly') return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1)).toISOString();
  return undefined;
}

/**
 * The end of the last whole period after `start` that has ended by `now` (undefined if none has):
 * arithmetic for custom-length periods, a walk over days or months for calendar ones.
 */
export function lastPeriodEndBy(
  start: string,
  now: string,
  config: Pick<TenantConfig, 'period' | 'periodSeconds'>,
): string | undefined {
  if (config.periodSeconds !== undefined) {
    const length = config.periodSeconds * 1000;
    const whole = Math.floor((Date.parse(now) - Date.parse(start)) / length);
    return whole >= 1 ? new Date(Date.parse(start) + whole * length).toISOString() : undefined;
  }
  let last: string | undefined;
  for (let end = periodEnd(start, config); end !== undefined && end <= now; end = periodEnd(end, config)) last = end;
  return last;
}

/** Where a calendar period containing `now` starts; custom-length periods start when the tenant does. */
export function periodStartFor(now: string, config: Pick<TenantConfig, 'period' | 'periodSeconds'>): string {
  const t = new Date(now);
  if (config.periodSeconds !== undefined || config.period === 'none') return now;
  if (config.period === 'daily')
    return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate())).toISOString();
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1)).toISOString();
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

  constructor(readonly state: TenantLedgerState) {
    this.charged = new Set(state.chargedKeys);
    state.learning ??= createLearningState(state.config.learning);
    this.learning = new LearningProfile(state.learning, () => this.config.learning);
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
    return this.state.inFlight.reduce((sum, run) => sum + this.reservation(run), 0) + this.learning.reservedMicros();
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

  pressureFor(runId: string): TenantPressure {
    const othersCommittedMicros =
      this.state.inFlight
        .filter((r) => r.runId !== runId)
        .reduce((sum, r) => sum + Math.max(this.reservation(r), r.estRemainingMicros), 0) +
      this.learning.reservedMicros();
    return {
      budgetMicros: this.budgetMicros(),
      spentMicros: this.spentMicros(),
      othersCommittedMicros,
      activeRuns: this.state.inFlight.length,
      maxConcurrentRuns: this.config.maxConcurrentRuns,
      backpressureThreshold: this.config.backpressureThreshold,
      thresholds: this.config.thresholds,
      budgetStatus: this.budgetStatus(),
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
    if (charged > 0) this.learning.adjustIntensity(this.budgetStatus(), now);
    return charged;
  }

  spentMicros(): number {
    return Object.values(this.state.spentMicros).reduce((sum, v) => sum + (v ?? 0), 0);
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
    return true;
  }

  /** Runs that may start now: below the limit, and only urgent ones once backpressure applies. */
  private hasRoomFor(priority: number): boolean {
    const active = this.state.inFlight.length;
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
   * Admission asked before the run starts: ADMITTED (with its first lease) or REJECTED at once, or
   * QUEUE when the run would have to wait, without queueing it: the run queues itself when it
   * starts, so the entity never answers a run that does not exist yet. A repeat gets the same answer.
   */
  admitNow(request: AdmissionRequest, now: string): AdmissionTicket | { kind: 'QUEUE'; runId: string } {
    const existing = this.state.inFlight.find((r) => r.runId === request.runId);
    if (existing) return this.admitted(existing, 0) as AdmissionTicket;
    const queuedAhead = this.state.waiting.some((w) => w.runId === request.runId || w.priority <= request.priority);
    if (this.budgetStatus() !== 'EXCEEDED' && (queuedAhead || !this.hasRoomFor(request.priority)))
      return { kind: 'QUEUE', runId: request.runId };
    return this.requestAdmission(request, now) as AdmissionTicket;
  }

  private admit(request: AdmissionRequest, now: string): AdmissionDecision {
    const run: InFlightRun = {
      runId: request.runId,
      workflowId: request.workflowId,
      priority: request.priority,
      admittedAt: now,
      grantedMicros: 0,
      reportedMicros: 0,
      estRemainingMicros: request.estimatedMicros ?? 0,
    };
    this.state.inFlight.push(run);
    return this.admitted(run, request.estimatedMicros ?? 0, true);
  }

  /** The admission answer; a new admission (not a repeat) also takes its turn at exploring. */
  private admitted(run: InFlightRun, requestMicros: number, newAdmission = false): AdmissionDecision {
    // The lease is granted first, so a shadow's money never competes with the real run's.
    const lease = this.grant(run, requestMicros, 0);
    const explore = newAdmission && this.learning.nextRunExplores(this.learningAvailableMicros() > 0);
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

  /** Charges a run's last costs, then frees its slot and its unspent reservation (or its place in the queue). Idempotent. */
  releaseRun(runId: string, costs: CostEvent[], now: string): boolean {
    this.recordCosts(costs, now);
    const before = this.state.inFlight.length + this.state.waiting.length;
    this.state.inFlight = this.state.inFlight.filter((r) => r.runId !== runId);
    this.state.waiting = this.state.waiting.filter((r) => r.runId !== runId);
    return this.state.inFlight.length + this.state.waiting.length < before;
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
          decision: { kind: 'REJECTED', runId: w.runId, reason: 'budget exceeded while waiting for admission' },
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

  private spendByCategory(): Partial<Record<CostCategory, number>> {
    const spend: Partial<Record<CostCategory, number>> = {};
    for (const category of COST_CATEGORIES) {
      const micros = this.state.spentMicros[category];
      if (micros) spend[category] = usd(micros);
    }
    return spend;
  }

  status(): TenantStatus {
    const end = this.currentPeriodEnd();
    return {
      tenantId: this.config.tenantId,
      config: this.config,
      budgetUsd: this.config.budgetUsd,
      spentUsd: usd(this.spentMicros()),
      utilization: this.utilization(),
      budgetStatus: this.budgetStatus(),
      spendByCategory: this.spendByCategory(),
      runsInFlight: this.state.inFlight.map((r) => ({ ...r })),
      runsWaiting: [...this.state.waiting],
      chargedEvents: this.state.chargedEvents,
      reservedUsd: usd(this.reservedMicros()),
      periodStart: this.state.periodStart,
      ...(end ? { periodEnd: end } : {}),
      archivedPeriods: [...this.state.archive],
      learning: this.learningStatus(),
      tokens: (this.state.tokens ?? []).map(({ hash: _hash, ...token }) => token),
    };
  }

  /** The few numbers the Web UI's budget gauge shows, without building the whole status. */
  gauge() {
    return {
      tenantId: this.config.tenantId,
      budgetStatus: this.budgetStatus(),
      budgetUsd: this.config.budgetUsd,
      spentUsd: usd(this.spentMicros()),
      utilization: this.utilization(),
      reservedUsd: usd(this.reservedMicros()),
      runsInFlight: this.state.inFlight.length,
      runsWaiting: this.state.waiting.length,
      maxConcurrentRuns: this.config.maxConcurrentRuns,
      periodStart: this.state.periodStart,
      periodEnd: this.currentPeriodEnd(),
      archivedPeriods: this.state.archive.length,
    };
  }

  activeTokens(): ApiToken[] {
    return (this.state.tokens ?? []).filter((t) => !t.revokedAt);
  }

  /** Why a token cannot be added, or undefined if it can. */
  tokenProblem(token: { id: string; hash: string }): string | undefined {
    if (!/^[a-f0-9]{64}$/.test(token.hash)) return 'hash must be 64 lowercase hex characters (SHA-256)';
    if (!/^[a-z0-9]{1,32}$/.test(token.id)) return 'token id must be 1-32 lowercase letters or digits';
    if ((this.state.tokens ?? []).some((t) => t.id === token.id)) return `token id ${token.id} is already used`;
    if (this.activeTokens().length >= MAX_ACTIVE_TOKENS)
      return `tenant already has ${MAX_ACTIVE_TOKENS} active tokens; revoke one first`;
    return undefined;
  }

  addToken(token: { id: string; hash: string }, now: string): Omit<ApiToken, 'hash'> {
    (this.state.tokens ??= []).push({ id: token.id, hash: token.hash, createdAt: now });
    return { id: token.id, createdAt: now };
  }

  /** Revokes a token; false if there is no such active token. Revoked tokens stay listed, with when. */
  revokeToken(id: string, now: string): boolean {
    const token = this.activeTokens().find((t) => t.id === id);
    if (!token) return false;
    token.revokedAt = now;
    return true;
  }

  learningStatus(): LearningStatus {
    const l = this.learning.state;
    const config = this.config.learning;
    return {
      configuredIntensity: config.intensity,
      intensity: l.effectiveIntensity,
      metaLearningOptIn: config.metaLearningOptIn,
      budgetShare: this.learning.share(),
      learningBudgetUsd: usd(this.learning.learningBudgetMicros(this.budgetMicros())),
      learningSpentUsd: usd(this.learningSpentMicros()),
      learningReservedUsd: usd(this.learning.reservedMicros()),
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

/** The fields a patch gives, over the current config; nested thresholds and learning merge field by field. */
export function mergeTenantConfig(current: TenantConfig, patch: TenantConfigPatch): TenantConfigInput {
  const given = stripUndefined(patch);
  return {
    ...current,
    ...given,
    tenantId: current.tenantId,
    thresholds: { ...current.thresholds, ...stripUndefined(patch.thresholds ?? {}) },
    learning: { ...current.learning, ...stripUndefined(patch.learning ?? {}) },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
