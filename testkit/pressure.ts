/** A tenant's pressure, as the CostAgent sees it, for tests. */
import type { TenantPressure } from '../workflows/domain/tenant/entity-payloads';

/** A tenant's pressure as a run sees it: healthy, one run in flight of ten, unless told otherwise. */
export function tenantPressure(over: Partial<TenantPressure> = {}, budgetMicros = 1_000_000): TenantPressure {
  return {
    budgetMicros,
    spentMicros: 0,
    othersCommittedMicros: 0,
    activeRuns: 1,
    maxConcurrentRuns: 10,
    backpressureThreshold: 0.8,
    thresholds: { warning: 0.7, critical: 0.9 },
    budgetStatus: 'HEALTHY',
    ...over,
  };
}
