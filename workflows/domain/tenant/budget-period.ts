/** Budget periods: a period's end, and the archive of past ones. */
import type { CostCategory } from '../pricing/catalog';
import type { TenantConfig } from './tenant-config';

/** Budget periods: when one ends, where the next starts, and what an ended one is archived as. */

export interface ArchivedPeriod {
  start: string;
  end: string;
  spentUsd: number;
  spendByCategory: Partial<Record<CostCategory, number>>;
}

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
