/** The benches' order statistics: nearest-rank percentiles, as every bench result reports them. */

/** The p-th percentile of `values` (nearest rank: the smallest value with p% of values at or below it); 0 when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The upper median of `values` (the middle one, or the upper of the two middle ones); 0 when there are none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
