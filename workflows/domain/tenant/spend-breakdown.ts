/** A tenant's spend by model, by tag and over time. */
import type { CostEvent } from './entity-payloads';

/**
 * A tenant's spend this period by model and by tag, and its cumulative spend over time: what the
 * dashboard draws, kept by the entity as each charge lands so that a page sees it within a second
 * (the showback report gives the same sums from the exported artifacts, later).
 */
export interface SpendBreakdown {
  /** Micro-dollars by model (`(none)` for nodes without one), as the report's byModel. */
  byModel: Record<string, number>;
  /** Micro-dollars by `key=value` of the runs' tags, as the report's byTag. */
  byTag: Record<string, number>;
  /** [at, cumulative micro-dollars] since the period began, oldest first, at most SERIES_POINTS. */
  series: Array<[string, number]>;
}

/** Keys kept per breakdown; the rest of the money is summed under OTHER_KEY, so the state stays small. */
export const BREAKDOWN_KEYS = 200;
export const OTHER_KEY = '(other)';
/** Points of the spend series; when full, every other one is dropped, so it covers the whole period at a coarser step. */
export const SERIES_POINTS = 120;
/** Charges closer together than this move the last point rather than add one. */
const SERIES_STEP_MS = 1000;

export function emptyBreakdown(periodStart: string): SpendBreakdown {
  return { byModel: {}, byTag: {}, series: [[periodStart, 0]] };
}

function add(group: Record<string, number>, key: string, micros: number): void {
  const at = key in group || Object.keys(group).length < BREAKDOWN_KEYS ? key : OTHER_KEY;
  group[at] = (group[at] ?? 0) + micros;
}

/** One charge, by its model and its run's tags. */
export function addCharge(breakdown: SpendBreakdown, event: CostEvent): void {
  add(breakdown.byModel, event.model || '(none)', event.costMicros);
  for (const [key, value] of Object.entries(event.tags ?? {}))
    add(breakdown.byTag, `${key}=${value}`, event.costMicros);
}

/** The period's spend at `at`. */
export function addSpendPoint(breakdown: SpendBreakdown, at: string, spentMicros: number): void {
  const series = breakdown.series;
  const last = series[series.length - 1];
  if (last && series.length > 1 && Date.parse(at) - Date.parse(last[0]) < SERIES_STEP_MS) {
    last[1] = spentMicros;
    return;
  }
  series.push([at, spentMicros]);
  if (series.length > SERIES_POINTS) {
    // Keep the first point (the period's start) and the newest; drop every other one between.
    const kept = series.filter((_, i) => i === 0 || i === series.length - 1 || i % 2 === 0);
    series.splice(0, series.length, ...kept);
  }
}
