import { z } from 'zod';
import { idSchema } from './ids';
import { COST_CATEGORIES, type CostCategory, toMicros, usd } from './catalog';

export const learningIntensitySchema = z.enum(['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE']);

export const tenantConfigSchema = z
  .object({
    tenantId: idSchema,
    /** Money the tenant may spend per period. @default 100 */
    budgetUsd: z.number().positive().max(1e9).default(100),
    /** @default 'monthly' */
    period: z.enum(['none', 'daily', 'monthly']).default('monthly'),
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
    learning: z
      .object({ intensity: learningIntensitySchema.default('BALANCED'), metaLearningOptIn: z.boolean().default(false) })
      .strict()
      .default({ intensity: 'BALANCED', metaLearningOptIn: false }),
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
}

export interface AdmissionRequest {
  runId: string;
  workflowId: string;
  priority: number;
}

export interface InFlightRun extends AdmissionRequest {
  admittedAt: string;
}

export interface WaitingRun extends AdmissionRequest {
  requestedAt: string;
}

export type AdmissionDecision =
  | { kind: 'ADMITTED'; runId: string; dedicatedQueue: boolean; budgetStatus: BudgetStatus }
  | { kind: 'WAITING'; runId: string; position: number }
  | { kind: 'REJECTED'; runId: string; reason: string };

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

  constructor(readonly state: TenantLedgerState) {
    this.charged = new Set(state.chargedKeys);
  }

  static create(config: TenantConfig): TenantLedger {
    return new TenantLedger({ config, spentMicros: {}, chargedKeys: [], chargedEvents: 0, inFlight: [], waiting: [] });
  }

  get config(): TenantConfig {
    return this.state.config;
  }

  configure(patch: TenantConfigPatch): TenantConfig {
    const merged = tenantConfigSchema.parse(mergeTenantConfig(this.state.config, patch));
    this.state.config = merged;
    return merged;
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
      for (const old of this.state.chargedKeys.splice(0, this.state.chargedKeys.length - CHARGED_KEYS_KEPT)) this.charged.delete(old);
    }
    this.state.spentMicros[event.category] = (this.state.spentMicros[event.category] ?? 0) + event.costMicros;
    this.state.chargedEvents++;
    return true;
  }

  private isInFlight(runId: string): boolean {
    return this.state.inFlight.some((r) => r.runId === runId);
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
    if (this.isInFlight(request.runId)) return this.admitted(request.runId);
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
    if (!queuedAhead && this.hasRoomFor(request.priority)) {
      this.state.inFlight.push({ ...request, admittedAt: now });
      return this.admitted(request.runId);
    }
    this.state.waiting.push({ ...request, requestedAt: now });
    this.sortWaiting();
    return { kind: 'WAITING', runId: request.runId, position: this.state.waiting.findIndex((w) => w.runId === request.runId) + 1 };
  }

  private admitted(runId: string): AdmissionDecision {
    return { kind: 'ADMITTED', runId, dedicatedQueue: this.config.dedicatedQueue, budgetStatus: this.budgetStatus() };
  }

  private sortWaiting(): void {
    // Array.prototype.sort is stable, so FIFO holds within a priority.
    this.state.waiting.sort((a, b) => a.priority - b.priority);
  }

  /** Frees a run's slot, or drops it from the queue if it never got one. Idempotent. */
  releaseRun(runId: string): boolean {
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
        replies.push({ workflowId: w.workflowId, decision: { kind: 'REJECTED', runId: w.runId, reason: 'budget exceeded while waiting for admission' } });
      }
      return replies;
    }
    while (this.state.waiting.length > 0 && this.hasRoomFor(this.state.waiting[0]!.priority)) {
      const next = this.state.waiting.shift()!;
      this.state.inFlight.push({ runId: next.runId, workflowId: next.workflowId, priority: next.priority, admittedAt: now });
      replies.push({ workflowId: next.workflowId, decision: this.admitted(next.runId) });
    }
    return replies;
  }

  status(): TenantStatus {
    const spendByCategory: Partial<Record<CostCategory, number>> = {};
    for (const category of COST_CATEGORIES) {
      const micros = this.state.spentMicros[category];
      if (micros) spendByCategory[category] = usd(micros);
    }
    return {
      tenantId: this.config.tenantId,
      config: this.config,
      budgetUsd: this.config.budgetUsd,
      spentUsd: usd(this.spentMicros()),
      utilization: this.utilization(),
      budgetStatus: this.budgetStatus(),
      spendByCategory,
      runsInFlight: [...this.state.inFlight],
      runsWaiting: [...this.state.waiting],
      chargedEvents: this.state.chargedEvents,
    };
  }
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
