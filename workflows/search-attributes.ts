import { defineSearchAttributeKey } from '@temporalio/common';

/** ADOS's five search attributes (README, "What to look at in the Web UI"); `ados dev` registers them on the dev server. */
export const TenantIdKey = defineSearchAttributeKey('TenantId', 'KEYWORD');
export const DeliveryStatusKey = defineSearchAttributeKey('DeliveryStatus', 'KEYWORD');
export const DeliveryCostUsdKey = defineSearchAttributeKey('DeliveryCostUsd', 'DOUBLE');
export const BudgetStatusKey = defineSearchAttributeKey('BudgetStatus', 'KEYWORD');
export const DeliveryPriorityKey = defineSearchAttributeKey('DeliveryPriority', 'INT');

export const ADOS_SEARCH_ATTRIBUTES = [
  TenantIdKey,
  DeliveryStatusKey,
  DeliveryCostUsdKey,
  BudgetStatusKey,
  DeliveryPriorityKey,
];
