/**
 * Moving a tenant into this deployment from another (`ados tenant move-in`): a tenant of a
 * single-region deployment gains a placement in a deployment of regions, or moves between any two
 * deployments, with its spend, periods, tokens, configuration, learning profile and alerts. Its
 * runs in flight end where they started and are charged there first: the old entity stops admitting
 * new runs, and its state is copied only once nothing holds it there.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { UserError } from '../../infra/user-error';
import {
  ENTITY_TASK_QUEUE,
  ENTITY_WORKFLOW_TASK_TIMEOUT,
  assertId,
  tenantBudgetWorkflowId,
} from '../../workflows/domain/ids';
import type { TenantHandover } from '../../workflows/domain/tenant/ledger';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import { handoverQuery, moveOutUpdate } from '../../workflows/messages/tenant-budget';
import type { tenantBudget } from '../../workflows/tenant-budget';
import { tenantStatus } from './tenants';

/** How long a move waits for the runs that hold the tenant in its old deployment. @default 10 minutes */
export const MOVE_IN_WAIT_MS = 600_000;
/** A run started just before the move shows in visibility within this. */
const VISIBILITY_LAG_MS = 2000;

/** The tenant's runs still open in `client`'s namespace, as visibility lists them. */
async function openRunsOf(client: Client, tenantId: string): Promise<number> {
  const { count } = await client.workflow.count(
    `WorkflowType = 'deliveryRun' AND TenantId = '${tenantId}' AND ExecutionStatus = 'Running'`,
  );
  return count;
}

export interface MoveInOptions {
  /** Where the tenant goes, in the words its refused runs get ("region eu, namespace ados-eu"). */
  destination: string;
  /** @default MOVE_IN_WAIT_MS */
  timeoutMs?: number;
  /** Each time what holds the tenant changes (`holding.openRuns`: its runs visibility still lists open, once the entity holds none). */
  onProgress?: (handover: TenantHandover & { holding: { openRuns?: number } }) => void;
}

/** What the old deployment's entity of `tenantId` is called in errors. */
function oldEntity(from: Client, tenantId: string): string {
  return `tenant ${tenantId} in the deployment it moves from (namespace ${from.options.namespace})`;
}

async function exists(client: Client, tenantId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(tenantBudgetWorkflowId(tenantId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Moves `tenantId` from the deployment of `from` into that of `to` (a placed tenant's namespace in
 * a deployment of regions): the old entity admits no new run from the first step on (its runs are
 * refused with TENANT_MOVED, naming `destination`), its blocks are revoked, and once its runs in
 * flight, waiting runs, blocks and shadows have ended there, its whole state starts the tenant's
 * entity here. Asked again after it completed, it answers the tenant's status; stopped by its
 * timeout, it leaves the tenant moving (run it again to go on, or `abortMoveIn` to reopen it).
 */
export async function moveTenantIn(
  from: Client,
  to: Client,
  tenantId: string,
  { destination, timeoutMs = MOVE_IN_WAIT_MS, onProgress }: MoveInOptions,
): Promise<TenantStatus> {
  assertId('tenant id', tenantId);
  const old = from.workflow.getHandle<typeof tenantBudget>(tenantBudgetWorkflowId(tenantId));
  if (await exists(to, tenantId)) {
    const standing = await old.query(handoverQuery).catch(() => undefined);
    if (standing?.state) return tenantStatus(to, tenantId);
    throw new UserError(
      `tenant ${tenantId} already exists in this deployment (namespace ${to.options.namespace}): move-in creates it, so it moves only into a deployment that does not have it`,
      'CONFLICT',
    );
  }
  const move = async (handOver: boolean): Promise<TenantHandover> => {
    try {
      return await old.executeUpdate(moveOutUpdate, { args: [{ to: destination, handOver }] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UserError(`${oldEntity(from, tenantId)} does not exist`, 'NOT_FOUND');
      throw err;
    }
  };
  let handover = await move(false);
  const deadline = Date.now() + timeoutMs;
  let shown = '';
  while (!handover.state) {
    // Runs started before the move that have not asked yet would still be taken there: visibility
    // lists them (its lag covered by waiting VISIBILITY_LAG_MS past the move's start).
    const openRuns = handover.drained ? await openRunsOf(from, tenantId) : undefined;
    const progress = { ...handover, holding: { ...handover.holding, ...(openRuns ? { openRuns } : {}) } };
    const holding = JSON.stringify(progress.holding);
    if (holding !== shown) onProgress?.(progress);
    shown = holding;
    const settled = Date.now() - Date.parse(handover.movedAt ?? '') >= VISIBILITY_LAG_MS;
    if (handover.drained && openRuns === 0 && settled) {
      handover = await move(true);
      if (handover.state) break;
    }
    if (Date.now() > deadline) {
      const h = handover.holding;
      throw new UserError(
        `${oldEntity(from, tenantId)} still holds ${h.runsInFlight} runs in flight, ${h.runsWaiting} waiting, ${h.blocks} admission blocks and ${h.explorations} shadow runs${openRuns ? ` (${openRuns} runs open)` : ''} after ${Math.round(timeoutMs / 1000)} s; it admits no new run there. Run the command again to go on waiting, or with --abort to keep the tenant where it is`,
        'UNAVAILABLE',
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    handover = await old.query(handoverQuery);
  }
  await to.workflow.start<typeof tenantBudget>('tenantBudget', {
    workflowId: tenantBudgetWorkflowId(tenantId),
    taskQueue: ENTITY_TASK_QUEUE,
    workflowTaskTimeout: ENTITY_WORKFLOW_TASK_TIMEOUT,
    args: [{ state: handover.state }],
    workflowIdConflictPolicy: 'FAIL',
    staticSummary: `tenant ${tenantId}: budget and admission (moved in)`,
  });
  return tenantStatus(to, tenantId);
}

/**
 * Keeps a tenant whose move was begun where it is: its old entity admits runs again. Refused once
 * the tenant's entity exists in the deployment it was moving to (the move is done).
 */
export async function abortMoveIn(from: Client, to: Client, tenantId: string): Promise<TenantHandover> {
  assertId('tenant id', tenantId);
  if (await exists(to, tenantId))
    throw new UserError(
      `tenant ${tenantId} has moved into this deployment (namespace ${to.options.namespace}) already: there is no move to abort`,
      'CONFLICT',
    );
  try {
    return await from.workflow
      .getHandle<typeof tenantBudget>(tenantBudgetWorkflowId(tenantId))
      .executeUpdate(moveOutUpdate, { args: [{ to: null }] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UserError(`${oldEntity(from, tenantId)} does not exist`, 'NOT_FOUND');
    throw err;
  }
}
