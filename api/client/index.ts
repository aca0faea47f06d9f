import { promptBasesOf } from '../../activities/nodes/llm';
import type { z } from 'zod';
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { deliveryRun, progressQuery } from '../../workflows/delivery-run';
import { tenantBudget } from '../../workflows/tenant-budget';
import {
  configureTenantUpdate,
  quoteInputsQuery,
  releaseRunSignal,
  tenantStatusQuery,
} from '../../workflows/messages/tenant-budget';
import type { DeliveryRunInput } from '../../workflows/domain/run/dag';
import type { RejectionCode } from '../../workflows/domain/tenant/entity-payloads';
import {
  CONTROL_TASK_QUEUE,
  ENTITY_TASK_QUEUE,
  ENTITY_WORKFLOW_TASK_TIMEOUT,
  assertId,
  META_LEARNING_WORKFLOW_ID,
  budgetAlertWorkflowId,
  deliveryRunWorkflowId,
  tenantBudgetWorkflowId,
} from '../../workflows/domain/ids';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { quoteRun, type RunQuote } from '../../workflows/domain/prediction/quote';
import { BUILTIN_NODE_KINDS } from '../../workflows/domain/run/routing';
import { loadConfig, nodePartitions } from '../../infra/config';
import { checkRunStart, launchRun, runModels } from './launch';
import { exportFinished } from '../../activities/export/exporter';
import { showbackReport, type ShowbackReport } from '../../activities/export/showback';
import { UserError } from '../../infra/user-error';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';

import {
  tenantConfigPatchSchema,
  tenantConfigSchema,
  tenantSettingsSchema,
  type TenantConfigInput,
  type TenantConfigPatch,
  type TenantSettings,
} from '../../workflows/domain/tenant/tenant-config';
import { webhookProblem } from '../../activities/alerts';
import { seal } from '../../infra/seal';
import type { AlertRecord } from '../../workflows/domain/alerts/budget-alerts';
import { metaLearningStatusQuery } from '../../workflows/messages/meta-learning';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import {
  AdmissionBlockKey,
  BudgetStatusKey,
  DeliveryPriorityKey,
  DeliveryStatusKey,
  TenantIdKey,
} from '../../workflows/ports/search-attributes';
import { runPrices } from '../../activities/pricing';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';

export { UserError };

/** The namespace ADOS works in (TEMPORAL_NAMESPACE or the profile's; docs/DEPLOYMENT.md). */
export function temporalNamespace(): string {
  return temporalTarget().namespace;
}

/**
 * A client through the one connection factory (infra/temporal-connection.ts); `address` overrides
 * the configured one (a harness's own server). Fails with a one-line UserError (UNAVAILABLE).
 */
export async function connectClient(address?: string): Promise<Client> {
  return temporalClient(temporalTarget(address ? { address } : {}));
}

/** The settings with the alerts' URL checked and their secret sealed (bound to the tenant). */
async function sealAlerts(
  tenantId: string,
  settings: TenantSettings,
  allowPrivate: boolean,
): Promise<TenantConfigPatch> {
  const { alerts, ...rest } = settings;
  if (!alerts) return { ...rest, ...(alerts === null ? { alerts: null } : {}) };
  const { secret, ...kept } = alerts;
  if (kept.webhookUrl !== undefined) {
    const problem = await webhookProblem(kept.webhookUrl, allowPrivate);
    if (problem)
      throw new UserError(`invalid tenant config: alerts.webhookUrl: ${problem}`, 'INVALID_INPUT', [
        `alerts.webhookUrl: ${problem}`,
      ]);
  }
  return { ...rest, alerts: { ...kept, ...(secret ? { secretSealed: seal(secret, tenantId) } : {}) } };
}

async function tenantHasAlerts(client: Client, tenantId: string): Promise<boolean> {
  try {
    return (
      (await client.workflow.getHandle(tenantBudgetWorkflowId(tenantId)).query(tenantStatusQuery)).config.alerts !==
      undefined
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function validTenantConfig<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error.issues);
  throw new UserError(`invalid tenant config: ${problems.join('; ')}`, 'INVALID_INPUT', problems);
}

function zodProblems(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string[] {
  return issues.map((i) => `${i.path.map(String).join('.') || 'input'}: ${i.message}`);
}

/**
 * How long a caller waits for a tenant change. The entity answers within milliseconds when a worker
 * serves ados-entities; without one, the change waits in Temporal and the caller hears why.
 */
export const CONFIGURE_TIMEOUT_MS = 20_000;

/**
 * Creates the tenant, or changes the fields given, in one round trip (update-with-start). An
 * alerts webhook must be http(s) and, unless `allowPrivate` (ADOS_ALERT_ALLOW_PRIVATE), public; its
 * signing secret is sealed here, so only ciphertext reaches Temporal.
 */
export async function configureTenant(
  client: Client,
  tenantId: string,
  settings: TenantSettings,
  { timeoutMs = CONFIGURE_TIMEOUT_MS, allowPrivate = loadConfig().ADOS_ALERT_ALLOW_PRIVATE } = {},
): Promise<TenantStatus> {
  assertId('tenant id', tenantId);
  validTenantConfig(tenantSettingsSchema, { ...settings, tenantId });
  const patch = await sealAlerts(tenantId, settings, allowPrivate);
  // The patch as given, and the config a new tenant would start with: both must be valid.
  validTenantConfig(tenantConfigPatchSchema, { ...patch, tenantId });
  if (patch.alerts && !patch.alerts.secretSealed && !(await tenantHasAlerts(client, tenantId)))
    throw new UserError(
      'invalid tenant config: alerts.secret: required the first time alerts are set',
      'INVALID_INPUT',
      ['alerts.secret: required the first time alerts are set'],
    );
  // A change of an existing tenant's alerts may keep its secret: such a tenant exists, so its initial config is moot.
  const initial = {
    ...patch,
    ...(patch.alerts === null || (patch.alerts && !patch.alerts.secretSealed) ? { alerts: undefined } : {}),
    tenantId,
  } as TenantConfigInput;
  // Checked here, and sent as given: the entity fills in the defaults (an entity of an older release knows only its own).
  validTenantConfig(tenantConfigSchema, initial);
  const configure = () =>
    client.workflow.executeUpdateWithStart(configureTenantUpdate, {
      // The patch as given: parsing would fill in defaults and overwrite settings the caller kept.
      args: [{ ...patch, tenantId }],
      startWorkflowOperation: new WithStartWorkflowOperation(tenantBudget, {
        workflowId: tenantBudgetWorkflowId(tenantId),
        taskQueue: ENTITY_TASK_QUEUE,
        workflowTaskTimeout: ENTITY_WORKFLOW_TASK_TIMEOUT,
        args: [{ config: initial }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: `tenant ${tenantId}: budget and admission`,
      }),
    });
  const deadline = Date.now() + timeoutMs;
  try {
    return await client.withDeadline(deadline, configure);
  } catch (err) {
    // The deadline surfaces as DEADLINE_EXCEEDED, or (a race in gRPC) as a cancelled call once it has passed.
    if (
      isDeadlineExceeded(err) ||
      (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError && Date.now() >= deadline)
    ) {
      throw new UserError(
        `tenant ${tenantId} did not answer within ${timeoutMs / 1000} s: is a worker serving ${ENTITY_TASK_QUEUE}? (start one with: ados worker). The change is not lost if Temporal accepted it; check with: ados tenant show ${tenantId}`,
        'UNAVAILABLE',
      );
    }
    if (err instanceof Error && /Workflow Task in failed state/i.test(err.message))
      throw new UserError(
        `tenant ${tenantId} cannot take changes: its entity's workflow task keeps failing on the workers (their log says why; a history sealed under a key this deployment's key ring, ADOS_KEYRING, lacks is a common cause)`,
        'UNAVAILABLE',
      );
    // The entity's validator judges the patch merged over the current config (e.g. a new warning
    // threshold above the critical one already set): a refusal is the caller's invalid input.
    if (err instanceof WorkflowUpdateFailedError) {
      const message = err.cause?.message ?? err.message;
      throw new UserError(`invalid tenant config: ${message}`, 'INVALID_INPUT', [message]);
    }
    throw err;
  }
}

function isDeadlineExceeded(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: number }).code === 4 || /deadline/i.test(e.message)) return true;
  }
  return false;
}

export async function tenantStatus(client: Client, tenantId: string): Promise<TenantStatus> {
  assertId('tenant id', tenantId);
  let status: TenantStatus;
  try {
    status = await client.workflow.getHandle(tenantBudgetWorkflowId(tenantId)).query(tenantStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`unknown tenant ${tenantId}`, 'NOT_FOUND');
    throw err;
  }
  await Promise.all((status.alerts ?? []).filter((a) => a.status === 'pending').map((a) => pendingDelivery(client, a)));
  // Only opted-in tenants have an account to show (and only they cost the extra query).
  const privacy = status.config.learning.metaLearningOptIn ? await privacyStanding(client, tenantId) : undefined;
  return privacy ? { ...status, privacy } : status;
}

/** The tenant's privacy account with the cross-tenant priors, if it ever contributed. */
async function privacyStanding(client: Client, tenantId: string): Promise<TenantStatus['privacy']> {
  try {
    const meta = await client.workflow.getHandle(META_LEARNING_WORKFLOW_ID).query(metaLearningStatusQuery);
    const own = meta.privacy?.find((p) => p.tenantId === tenantId);
    if (!own) return undefined;
    return {
      ...own,
      composition: 'basic',
      epsilonPerRelease: meta.config.epsilon,
      epsilonTotal: meta.config.epsilonTotal,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** A pending alert's attempts so far and last error, as Temporal keeps them for its delivery activity. */
async function pendingDelivery(client: Client, alert: AlertRecord): Promise<void> {
  try {
    const description = await client.workflow.getHandle(budgetAlertWorkflowId(alert.id)).describe();
    const activity = description.raw.pendingActivities?.[0];
    if (!activity) return;
    alert.attempts = activity.attempt ?? 0;
    // Its message travels sealed in the failure's encoded attributes: decoded as the client decodes any failure.
    const failure = await decodeOptionalFailureToOptionalError(
      client.options.loadedDataConverter,
      activity.lastFailure,
    );
    if (failure?.message) alert.lastError = failure.message;
  } catch (err) {
    // Not started yet (the entity starts it right after raising it): nothing to add.
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

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
    handle = await client.workflow.start(deliveryRun, {
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
