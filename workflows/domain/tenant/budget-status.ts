/** How much of its budget a tenant has used, as one of four states with thresholds from its config. */

export const BUDGET_STATUSES = ['HEALTHY', 'WARNING', 'CRITICAL', 'EXCEEDED'] as const;
export type BudgetStatus = (typeof BUDGET_STATUSES)[number];

export function budgetStatus(utilization: number, thresholds: { warning: number; critical: number }): BudgetStatus {
  if (utilization >= 1) return 'EXCEEDED';
  if (utilization >= thresholds.critical) return 'CRITICAL';
  if (utilization >= thresholds.warning) return 'WARNING';
  return 'HEALTHY';
}
