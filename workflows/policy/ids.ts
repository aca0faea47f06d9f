import { z } from 'zod';

/** Tenant, run and node ids: safe as path segments and inside workflow ids (`^[a-z0-9][a-z0-9_-]{0,62}$`). */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const idSchema = z
  .string()
  .regex(ID_PATTERN, { message: 'must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, _ and -)' });

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Throws a plain Error naming the field; for clients and activities, never for workflow code. */
export function assertId(kind: string, value: unknown): string {
  if (!isValidId(value)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(value)}: ids must match ${ID_PATTERN.source}`);
  }
  return value;
}

export const CONTROL_TASK_QUEUE = 'ados-control';

export function deliveryRunWorkflowId(tenantId: string, runId: string): string {
  return `delivery-run:${tenantId}:${runId}`;
}

/** The tenant and run of a workflow id of the form `delivery-run:{tenantId}:{runId}`, or undefined. */
export function parseDeliveryRunWorkflowId(workflowId: string): { tenantId: string; runId: string } | undefined {
  const parts = workflowId.split(':');
  if (parts.length !== 3 || parts[0] !== 'delivery-run' || !isValidId(parts[1]) || !isValidId(parts[2]))
    return undefined;
  return { tenantId: parts[1], runId: parts[2] };
}

export function tenantBudgetWorkflowId(tenantId: string): string {
  return `tenant-budget:${tenantId}`;
}

/** One workflow per alert, so Temporal refuses a second delivery of the same alert. */
export function budgetAlertWorkflowId(alertId: string): string {
  return `budget-alert:${alertId}`;
}

export const META_LEARNING_WORKFLOW_ID = 'meta-learning';
