/** The tenantPlacement workflow: one tenant's entry in the directory of a deployment of several regions. */
import { condition } from '@temporalio/workflow';
import type { Placement } from './domain/tenant/placement';

/**
 * Holds a tenant's placement for as long as the tenant exists. The placement is its input and its
 * memo, so any region's copy of the directory answers where the tenant lives without a worker or a
 * query; the workflow itself waits and does nothing else (no event after its first workflow task).
 */
export async function tenantPlacement(_placement: Placement & { tenantId: string }): Promise<void> {
  await condition(() => false);
}
