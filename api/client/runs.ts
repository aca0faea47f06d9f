/** Runs from the client's side: quoting, checking and starting one (through the one launch), and reading its outcome. */
import { promptBasesOf } from '../../activities/nodes/prompt-tokens';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
// The workflow's type only: a client starts it by name and never loads workflow code.
import type { deliveryRun } from '../../workflows/delivery-run';
import { progressQuery } from '../../workflows/messages/delivery-run';
import { quoteInputsQuery, releaseRunSignal } from '../../workflows/messages/tenant-budget';
import type { DeliveryRunInput } from '../../workflows/domain/run/dag';
import type { RejectionCode } from '../../workflows/domain/tenant/entity-payloads';
import {
  CONTROL_TASK_QUEUE,
  assertId,
  deliveryRunWorkflowId,
  tenantBudgetWorkflowId,
} from '../../workflows/domain/ids';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { quoteRun, type RunQuote } from '../../workflows/domain/prediction/quote';
import { BUILTIN_NODE_KINDS } from '../../workflows/domain/run/routing';
import { nodePartitions } from '../../infra/config';
import { checkRunStart, launchRun, runModels } from './launch';
import { UserError } from '../../infra/user-error';

import {
  AdmissionBlockKey,
  BudgetStatusKey,
  DeliveryPriorityKey,
  DeliveryStatusKey,
  TenantIdKey,
} from '../../workflows/ports/search-attributes';
import { runPrices } from '../../activities/pricing';

/**
 * What a run would cost, without running anything: the DAG checked as `startRun` checks it, priced
 * at today's prices with the tenant's negotiated rates, its learned cost model and the cheaper models
 * its learning proved.
 */
export async function quote(client: Client, input: unknown): Promise<RunQuote> {
  const checked = checkRunStart(input, STARTER_KINDS);
  if (!checked.ok) throw invalidRun(checked.problems);
  const { spec } = checked;
  let inputs;
  try {
    inputs = await client.workflow.getHandle(tenantBudgetWorkflowId(spec.tenantId)).query(quoteInputsQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`unknown tenant ${spec.tenantId}`, 'NOT_FOUND');
    throw err;
  }
  return quoteRun(spec, runPrices(runModels(spec)), inputs, promptBasesOf(spec));
}

/**
 * The kinds a starter checks a DAG against: the built-in ones. A DAG naming another kind is left
 * to its run's worker, which knows the deployment's kinds, checks them and asks for admission first.
 */
const STARTER_KINDS = { knownKinds: BUILTIN_NODE_KINDS, authoritativeKinds: false } as const;

function invalidRun(problems: string[]): UserError {
  return new UserError(`invalid run: ${problems.join('; ')}`, 'INVALID_INPUT', problems);
}

/** Checks a run's input as `startRun` does, without starting it: the input as started (with its runId). */
export function checkRunInput(input: unknown): DeliveryRunInput & { runId: string } {
  const checked = checkRunStart(input, STARTER_KINDS);
  if (!checked.ok) throw invalidRun(checked.problems);
  return checked.input;
}

/**
 * The tenant's answer to a start, the same whichever door the run came in through: ADMITTED (it
 * runs now), PENDING (it waits in its tenant's queue, or its worker checks a kind this starter does
 * not know before it asks), or REJECTED with the reason (the run exists, ended REJECTED).
 */
export type RunAdmission =
  { status: 'ADMITTED' } | { status: 'PENDING' } | { status: 'REJECTED'; reason: string; code?: RejectionCode };

/** A started run's handle, with its id and its tenant's answer. */
export type StartedRun = WorkflowHandle<typeof deliveryRun> & { runId: string; admission: RunAdmission };

/**
 * Starts a run: the launch (api/client/launch.ts: the one validation, prices, the tenant's
 * admission in one batched `admitRuns` update) and then the workflow, carrying the launch so that
 * an admitted run begins at once and a rejected one ends at once, as recorded runs. A run that must
 * wait queues itself when it starts. An invalid input starts nothing.
 */
export async function startRun(client: Client, input: unknown): Promise<StartedRun> {
  const outcome = await launchRun(client, input, { ...STARTER_KINDS, nodePartitions: nodePartitions() });
  if (!outcome.ok) throw invalidRun(outcome.problems);
  const { input: run, spec, workflowId, launch } = outcome;
  const ticket = launch?.ticket;
  // A starter's launch is never queued (its run does not exist yet): ADMITTED, REJECTED, or no ticket.
  const status = !ticket ? 'ADMITTING' : ticket.kind === 'ADMITTED' ? 'RUNNING' : ticket.kind;
  let handle: WorkflowHandle<typeof deliveryRun>;
  try {
    handle = await client.workflow.start<typeof deliveryRun>('deliveryRun', {
      workflowId,
      taskQueue: CONTROL_TASK_QUEUE,
      args: launch ? [run, launch] : [run],
      priority: { priorityKey: spec.priority, fairnessKey: run.tenantId },
      staticSummary: `${run.tenantId} · ${spec.dag.name} · ${spec.dag.nodes.length} nodes · priority ${spec.priority}`,
      staticDetails: `DAG: ${spec.dag.nodes.map((n) => `${n.id} (${n.kind})`).join(', ')}`,
      typedSearchAttributes: [
        { key: TenantIdKey, value: run.tenantId },
        { key: DeliveryStatusKey, value: status },
        { key: DeliveryPriorityKey, value: spec.priority },
        ...(ticket?.kind === 'ADMITTED' ? [{ key: BudgetStatusKey, value: ticket.lease.pressure.budgetStatus }] : []),
        ...(ticket?.kind === 'ADMITTED' && ticket.block
          ? [{ key: AdmissionBlockKey, value: ticket.block.blockId }]
          : []),
      ],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    // The slot taken for a run that did not start goes back, unless the run of that id holds it.
    if (ticket?.kind === 'ADMITTED' && !(await isRunning(client, workflowId))) {
      await client.workflow
        .getHandle(tenantBudgetWorkflowId(run.tenantId))
        .signal(releaseRunSignal, { runId: run.runId })
        .catch(() => undefined);
    }
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new UserError(`run ${run.runId} of tenant ${run.tenantId} already exists`, 'CONFLICT');
    throw err;
  }
  const admission: RunAdmission =
    !ticket || ticket.kind === 'WAITING'
      ? { status: 'PENDING' }
      : ticket.kind === 'ADMITTED'
        ? { status: 'ADMITTED' }
        : { status: 'REJECTED', reason: ticket.reason, ...(ticket.code ? { code: ticket.code } : {}) };
  return Object.assign(handle, { runId: spec.runId, admission });
}

function isRunning(client: Client, workflowId: string): Promise<boolean> {
  return client.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      (d) => d.status.name === 'RUNNING',
      () => false,
    );
}

export function runHandle(client: Client, tenantId: string, runId: string): WorkflowHandle<typeof deliveryRun> {
  return client.workflow.getHandle<typeof deliveryRun>(
    deliveryRunWorkflowId(assertId('tenant id', tenantId), assertId('run id', runId)),
  );
}

/**
 * The run's result whichever way it ended: returned (COMPLETED, DEGRADED, TERMINATED, REJECTED),
 * failed with its result in the failure's details (FAILED), or cancelled (read through `progress`).
 */
export async function runOutcome(handle: WorkflowHandle<typeof deliveryRun>): Promise<DeliveryRunResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === 'CriticalNodeFailed' && cause.details?.[0])
        return cause.details[0] as DeliveryRunResult;
      if (cause instanceof CancelledFailure) return handle.query(progressQuery);
      if (cause instanceof ApplicationFailure && cause.type === 'InvalidDeliveryInput') {
        const problems = ((cause.details?.[0] as { problems?: string[] } | undefined)?.problems ?? []).slice();
        throw new UserError(cause.message, 'INVALID_INPUT', problems);
      }
    }
    throw err;
  }
}

/** Progress of a running run, or the outcome of a finished one. */
export async function runProgress(client: Client, tenantId: string, runId: string): Promise<DeliveryRunResult> {
  const handle = runHandle(client, tenantId, runId);
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') return await handle.query(progressQuery);
    return await runOutcome(handle);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UserError(`unknown run ${runId} of tenant ${tenantId}`, 'NOT_FOUND');
    // A run whose input failed validation exists and ended FAILED; showing it is not an invalid request.
    if (err instanceof UserError && err.code === 'INVALID_INPUT')
      return {
        runId,
        tenantId,
        status: 'FAILED',
        costUsd: 0,
        nodes: {},
        decisions: [],
        reason: [err.message, ...err.issues].join('; '),
      };
    throw err;
  }
}
