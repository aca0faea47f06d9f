/** Tenants from the client's side: creating and changing one (its alerts' secret sealed here), and its status. */
import type { z } from 'zod';
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import type { tenantBudget } from '../../workflows/tenant-budget';
import { configureTenantUpdate, tenantStatusQuery } from '../../workflows/messages/tenant-budget';
import {
  ENTITY_TASK_QUEUE,
  ENTITY_WORKFLOW_TASK_TIMEOUT,
  assertId,
  metaLearningWorkflowId,
  budgetAlertWorkflowId,
  tenantBudgetWorkflowId,
} from '../../workflows/domain/ids';
import { loadConfig } from '../../infra/config';
import { updateAskingAgain } from './entity-update';
import { UserError } from '../../infra/user-error';

import {
  tenantConfigPatchSchema,
  tenantConfigSchema,
  tenantSettingsSchema,
  type TenantConfigInput,
  type TenantConfigPatch,
  type TenantSettings,
} from '../../workflows/domain/tenant/tenant-config';
import { webhookProblem } from '../../activities/webhook-target';
import { seal } from '../../infra/seal';
import type { AlertRecord } from '../../workflows/domain/alerts/budget-alerts';
import { metaLearningStatusQuery } from '../../workflows/messages/meta-learning';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import type { MetaLearningScope } from '../../workflows/domain/learning/profile-schema';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';

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
    updateAskingAgain((updateId) =>
      client.workflow.executeUpdateWithStart(configureTenantUpdate, {
        updateId,
        // The patch as given: parsing would fill in defaults and overwrite settings the caller kept.
        args: [{ ...patch, tenantId }],
        startWorkflowOperation: new WithStartWorkflowOperation<typeof tenantBudget>('tenantBudget', {
          workflowId: tenantBudgetWorkflowId(tenantId),
          taskQueue: ENTITY_TASK_QUEUE,
          workflowTaskTimeout: ENTITY_WORKFLOW_TASK_TIMEOUT,
          args: [{ config: initial }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `tenant ${tenantId}: budget and admission`,
        }),
      }),
    );
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
  const { metaLearningOptIn, metaLearningScope } = status.config.learning;
  const privacy = metaLearningOptIn ? await privacyStanding(client, tenantId, metaLearningScope) : undefined;
  return privacy ? { ...status, privacy } : status;
}

/** The tenant's privacy account with the cross-tenant priors, if it ever contributed. */
async function privacyStanding(
  client: Client,
  tenantId: string,
  scope: MetaLearningScope | undefined,
): Promise<TenantStatus['privacy']> {
  try {
    const entity = metaLearningWorkflowId(scope, Boolean(loadConfig().ADOS_REGION));
    const meta = await client.workflow.getHandle(entity).query(metaLearningStatusQuery);
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
