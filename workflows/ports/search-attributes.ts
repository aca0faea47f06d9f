/** The search attributes ADOS workflows set. */
import { defineSearchAttributeKey, type SearchAttributeUpdatePair } from '@temporalio/common';

/** ADOS's six search attributes (docs/CONTRACT.md); `ados dev` and `ados cluster up` register them. */
export const TenantIdKey = defineSearchAttributeKey('TenantId', 'KEYWORD');
export const DeliveryStatusKey = defineSearchAttributeKey('DeliveryStatus', 'KEYWORD');
export const DeliveryCostUsdKey = defineSearchAttributeKey('DeliveryCostUsd', 'DOUBLE');
export const BudgetStatusKey = defineSearchAttributeKey('BudgetStatus', 'KEYWORD');
export const DeliveryPriorityKey = defineSearchAttributeKey('DeliveryPriority', 'INT');
/** The admission block a run's starter admitted it from (absent for runs the entity admitted itself). */
export const AdmissionBlockKey = defineSearchAttributeKey('AdmissionBlock', 'KEYWORD');

export const ADOS_SEARCH_ATTRIBUTES = [
  TenantIdKey,
  DeliveryStatusKey,
  DeliveryCostUsdKey,
  BudgetStatusKey,
  DeliveryPriorityKey,
  AdmissionBlockKey,
];

/** A run's search attributes as it publishes them when its status, cost or budget status changes. */
export function runSearchAttributes(run: {
  tenantId: string;
  priority: number;
  status: string;
  costUsd: number;
  budgetStatus?: string;
}): SearchAttributeUpdatePair[] {
  return [
    { key: TenantIdKey, value: run.tenantId },
    { key: DeliveryPriorityKey, value: run.priority },
    { key: DeliveryStatusKey, value: run.status },
    { key: DeliveryCostUsdKey, value: run.costUsd },
    ...(run.budgetStatus ? [{ key: BudgetStatusKey, value: run.budgetStatus }] : []),
  ];
}
