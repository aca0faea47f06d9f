/** Showback reports: a tenant's spend over a range, from its exported runs. */
import { Client } from '@temporalio/client';
import { exportFinished } from '../../activities/export/exporter';
import { tenantStatus } from './tenants';
import { showbackReport, type ShowbackReport } from '../../activities/export/showback';
import { UserError } from '../../infra/user-error';

/**
 * Showback for [from, to) (default: the current budget period until now), after exporting the
 * tenant's finished runs so that the report is complete.
 */
export async function tenantReport(
  client: Client,
  tenantId: string,
  { from, to }: { from?: string; to?: string } = {},
): Promise<ShowbackReport> {
  const status = await tenantStatus(client, tenantId);
  const outcome = await exportFinished(client, { tenantId });
  if (outcome.tenantErrors[tenantId])
    throw new UserError(`tenant ${tenantId} artifacts not exported: ${outcome.tenantErrors[tenantId]}`, 'UNAVAILABLE');
  const range = { from: from ?? status.periodStart, to: to ?? new Date(Date.now() + 1).toISOString() };
  if (range.from >= range.to)
    throw new UserError(`from (${range.from}) must be before to (${range.to})`, 'INVALID_INPUT', [
      `from: must be before to (${range.to})`,
    ]);
  return showbackReport(tenantId, range);
}
