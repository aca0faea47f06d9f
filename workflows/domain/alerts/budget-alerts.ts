/** Budget alerts: which are due, and each one's delivery record. */
import type { ArchivedPeriod } from '../tenant/budget-period';
import { toMicros, usd } from '../pricing/catalog';
import { round4 } from '../prediction/cost-model';
import { budgetAlertId } from '../ids';
import type { AlertsConfig } from '../tenant/tenant-config';

/**
 * Budget alerts: which are due, each at most once per period, and the record of each one's
 * delivery. Pure, so that the rules are unit-tested; the entity raises what `due` returns and a
 * budgetAlert workflow delivers each (workflows/budget-alert.ts).
 */

export type AlertType =
  'budget.threshold_crossed' | 'budget.exceeded' | 'budget.period_rolled' | 'budget.exhaustion_projected';

/** What the receiver gets (the signed body). */
export interface AlertBody {
  type: AlertType;
  tenantId: string;
  threshold?: number;
  utilization: number;
  spentUsd: number;
  budgetUsd: number;
  projectedExhaustionAt?: string;
  /**
   * With budget.exhaustion_projected: what the runs in flight are predicted to spend still (each
   * run's own projection of its remaining nodes, at least its unspent lease), counted as spent.
   */
  committedUsd?: number;
  periodStart: string;
  /** null for a tenant whose budget has no period. */
  periodEnd: string | null;
  at: string;
}

export type AlertDeliveryStatus = 'pending' | 'sent' | 'failed';

export interface AlertRecord {
  /** Stable per (tenant, period, type, threshold): the `webhook-id`, so a receiver can drop duplicates. */
  id: string;
  body: AlertBody;
  status: AlertDeliveryStatus;
  /** Delivery attempts, once settled. */
  attempts?: number;
  /** Why it failed (or, while pending, the last attempt's error as the delivery workflow reports it). */
  lastError?: string;
  settledAt?: string;
}

/** How a delivery ended, as the budgetAlert workflow reports it to the entity. */
export interface AlertSettlement {
  id: string;
  status: 'sent' | 'failed';
  attempts: number;
  error?: string;
  at: string;
}

export interface AlertState {
  /** Ids raised in the current period (older periods' ids are dropped at the roll). */
  raised: string[];
  /** The newest alerts and their delivery, newest last; the exporter keeps every one in alerts.jsonl. */
  log: AlertRecord[];
  /** Spend checkpoints for the burn rate, oldest first. */
  burn: Array<{ at: string; spentMicros: number }>;
}

/** Alerts the entity keeps in its state; older ones live on in alerts.jsonl. */
export const ALERTS_KEPT = 100;
/** Checkpoints kept for the burn rate. */
const BURN_CHECKPOINTS = 9;

export function emptyAlertState(): AlertState {
  return { raised: [], log: [], burn: [] };
}

/** What the rules need to know about the tenant now. */
export interface BudgetView {
  tenantId: string;
  budgetMicros: number;
  spentMicros: number;
  periodStart: string;
  periodEnd: string | undefined;
  now: string;
  /** Money the runs in flight are predicted to spend still; absent in entities recorded before it was counted. */
  committedMicros?: number;
}

/**
 * The burn-rate window: a 24th of the period, at least a minute and at most a day (a monthly
 * budget is judged on its last day of spend, a daily one on its last hour).
 */
export function burnWindowMs(periodStart: string, periodEnd: string): number {
  const length = Date.parse(periodEnd) - Date.parse(periodStart);
  return Math.min(86_400_000, Math.max(60_000, length / 24));
}

/**
 * When the budget is projected to run out, or undefined if not before the period ends: the money
 * the runs in flight are predicted to spend still (`committedMicros`) counts as spent, and the rest
 * lasts at the recent burn rate, the spend between the oldest checkpoint in the window and now
 * over that time (it needs a quarter of the window behind it). Runs in flight predicted to use up
 * all that is left project exhaustion now, burn or none.
 */
export function projectedExhaustion(view: BudgetView, burn: AlertState['burn']): string | undefined {
  if (!view.periodEnd || view.spentMicros >= view.budgetMicros) return undefined;
  const left = view.budgetMicros - view.spentMicros - (view.committedMicros ?? 0);
  if (left <= 0) return view.now;
  const now = Date.parse(view.now);
  const window = burnWindowMs(view.periodStart, view.periodEnd);
  const since = burn.find((c) => now - Date.parse(c.at) <= window && c.at >= view.periodStart);
  if (!since) return undefined;
  const elapsed = now - Date.parse(since.at);
  if (elapsed < window / 4) return undefined;
  const rate = (view.spentMicros - since.spentMicros) / elapsed;
  if (rate <= 0) return undefined;
  const at = now + left / rate;
  return at < Date.parse(view.periodEnd) ? new Date(Math.ceil(at)).toISOString() : undefined;
}

/**
 * The alerts due now and not yet raised this period: thresholds crossed, the budget exceeded,
 * periods that rolled (`rolled`, from the entity's rollover), and a projected exhaustion. Updates
 * `state` (raised ids, burn checkpoints, the log) and returns the new records, pending.
 */
export function raiseDue(
  config: AlertsConfig,
  view: BudgetView,
  rolled: readonly ArchivedPeriod[],
  state: AlertState,
): AlertRecord[] {
  const fresh: AlertRecord[] = [];
  const utilization = view.budgetMicros > 0 ? view.spentMicros / view.budgetMicros : 0;
  const base = {
    tenantId: view.tenantId,
    utilization: round4(utilization),
    spentUsd: usd(view.spentMicros),
    budgetUsd: usd(view.budgetMicros),
    periodStart: view.periodStart,
    periodEnd: view.periodEnd ?? null,
    at: view.now,
  };
  const raise = (body: AlertBody, periodStart = view.periodStart) => {
    const id = budgetAlertId(body.type, view.tenantId, periodStart, body.threshold);
    if (state.raised.includes(id)) return;
    state.raised.push(id);
    fresh.push({ id, body, status: 'pending' });
  };

  for (const period of rolled) {
    const spent = toMicros(period.spentUsd);
    raise(
      {
        type: 'budget.period_rolled',
        ...base,
        utilization: round4(view.budgetMicros > 0 ? spent / view.budgetMicros : 0),
        spentUsd: period.spentUsd,
        periodStart: period.start,
        periodEnd: period.end,
      },
      period.start,
    );
  }
  // Only this period's ids stay: each alert again in the next one.
  state.raised = state.raised.filter((id) => id.includes(`:${view.tenantId}:${view.periodStart}`));
  if (rolled.length > 0) state.burn = [];

  for (const threshold of [...config.thresholds].sort((a, b) => a - b))
    if (utilization >= threshold) raise({ type: 'budget.threshold_crossed', ...base, threshold });
  if (utilization >= 1) raise({ type: 'budget.exceeded', ...base });

  if (config.projectedExhaustion && view.periodEnd) {
    checkpoint(state, view);
    const at = projectedExhaustion(view, state.burn);
    if (at)
      raise({
        type: 'budget.exhaustion_projected',
        ...base,
        projectedExhaustionAt: at,
        ...(view.committedMicros ? { committedUsd: usd(view.committedMicros) } : {}),
      });
  }

  state.log.push(...fresh);
  state.log.splice(0, Math.max(0, state.log.length - ALERTS_KEPT));
  return fresh;
}

/** A spend checkpoint every eighth of the window, the oldest dropped once a newer one covers the window. */
function checkpoint(state: AlertState, view: BudgetView): void {
  const window = burnWindowMs(view.periodStart, view.periodEnd!);
  const now = Date.parse(view.now);
  const last = state.burn[state.burn.length - 1];
  if (!last || now - Date.parse(last.at) >= window / 8)
    state.burn.push({ at: view.now, spentMicros: view.spentMicros });
  while (state.burn.length > 1 && now - Date.parse(state.burn[1]!.at) >= window) state.burn.shift();
  state.burn.splice(0, Math.max(0, state.burn.length - BURN_CHECKPOINTS));
}

/** Records how a delivery ended; a settlement of an alert no longer kept is ignored. */
export function settle(state: AlertState, settlement: AlertSettlement): void {
  const record = state.log.find((r) => r.id === settlement.id);
  if (!record) return;
  record.status = settlement.status;
  record.attempts = settlement.attempts;
  record.settledAt = settlement.at;
  if (settlement.error) record.lastError = settlement.error;
  else delete record.lastError;
}
