/** The tenantBudget workflow: one tenant's budget and admission entity. */
import { ApplicationFailure, allHandlersFinished, condition, patched, setHandler } from '@temporalio/workflow';
import { ZodError } from 'zod';
import {
  mergeTenantConfig,
  tenantConfigPatchSchema,
  tenantConfigSchema,
  type TenantConfigInput,
} from './domain/tenant/tenant-config';
import type { BlockLeaseRequest } from './domain/admission/blocks';
import type { TenantLedgerState } from './domain/tenant/ledger';
import { tenantStatusOf } from './domain/tenant/tenant-status';
import { TenantEntity, type Reply } from './tenant/entity';
import { PeriodTimer } from './tenant/period-timer';
import { EntityLifetime } from './tenant/entity-lifetime';
import {
  MAX_ADMISSIONS_PER_UPDATE,
  admitRunsUpdate,
  leaseBlocksUpdate,
  alertSettledSignal,
  authTokensQuery,
  configureTenantUpdate,
  handoverQuery,
  issueTokenUpdate,
  moveOutUpdate,
  quoteInputsQuery,
  recordCostsSignal,
  releaseRunSignal,
  releaseRunsSignal,
  requestAdmissionSignal,
  requestExplorationSignal,
  requestLeaseSignal,
  revokeTokenUpdate,
  settleExplorationSignal,
  tenantStatusQuery,
} from './messages/tenant-budget';

// ── Message API: declared in ./messages/tenant-budget, imported from there by clients and runs ──

export type TenantBudgetInput =
  | { config: TenantConfigInput; state?: undefined; outbox?: undefined }
  | { state: TenantLedgerState; outbox?: Reply[]; config?: undefined };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
/**
 * One tenant's budget and admission (`tenant-budget:{tenantId}`), an entity that lives for ever on
 * the entities' task queue: each message is one call on its TenantEntity, and the loop below
 * settles the state, sends the answers and continues-as-new while its history is still short
 * (./entity-lifetime.ts), carrying its state and unsent answers.
 */
export async function tenantBudget(input: TenantBudgetInput): Promise<never> {
  const entity = new TenantEntity(
    input.state ?? { config: parseOrFail(() => tenantConfigSchema.parse(input.config)), now: new Date().toISOString() },
    input.outbox,
  );
  const { ledger } = entity;
  const lifetime = new EntityLifetime<typeof tenantBudget>();
  // Executions recorded before it projected exhaustion from spend alone, in-flight runs' predictions uncounted.
  entity.alertsCountCommitted = patched('ados-alerts-count-committed');
  // Executions recorded before it kept no memory of released runs: a lease request arriving after
  // its run's release (re-sent across a failover) held the finished run's slot again, for ever.
  if (patched('ados-released-runs')) ledger.state.released ??= [];

  setHandler(tenantStatusQuery, () => tenantStatusOf(ledger));
  setHandler(quoteInputsQuery, () => ledger.quoteInputs());
  setHandler(authTokensQuery, () => ledger.tokens.active().map(({ id, hash }) => ({ id, hash })));
  setHandler(issueTokenUpdate, (token) => (entity.touch(), ledger.tokens.add(token, new Date().toISOString())), {
    validator: (token) => throwIf(ledger.tokens.problem(token)),
  });
  setHandler(
    revokeTokenUpdate,
    ({ id }) => (entity.touch(), { revoked: ledger.tokens.revoke(id, new Date().toISOString()) }),
  );
  setHandler(configureTenantUpdate, (patch) => (entity.configure(patch), tenantStatusOf(ledger)), {
    validator: (patch) => validatePatch(ledger.config, patch),
  });
  setHandler(admitRunsUpdate, ({ requests }) => entity.admitRuns(requests), { validator: validateAdmissions });
  setHandler(moveOutUpdate, ({ to, handOver }) => entity.moveOut(to, handOver === true), {
    validator: (move) => validateMove(move, ledger.state.handedOver === true),
  });
  setHandler(handoverQuery, () => entity.handover());
  setHandler(requestAdmissionSignal, (request) => entity.requestAdmission(request));
  setHandler(requestLeaseSignal, (request) => entity.requestLease(request));
  setHandler(recordCostsSignal, ({ events }) => entity.recordCosts(events));
  setHandler(releaseRunSignal, (release) => entity.releaseRuns([release]));
  setHandler(releaseRunsSignal, ({ releases }) => entity.releaseRuns(releases));
  setHandler(leaseBlocksUpdate, (request) => entity.leaseBlocks(request), { validator: validateBlockLease });
  setHandler(requestExplorationSignal, (request) => entity.requestExploration(request));
  setHandler(settleExplorationSignal, (report) => entity.settleExploration(report));
  setHandler(alertSettledSignal, (settlement) => entity.alertSettled(settlement));

  // Executions recorded before the period timer existed started a timer on every wait.
  const periodTimer = patched('ados-tenant-period-timer') ? new PeriodTimer() : undefined;
  for (;;) {
    if (periodTimer) {
      periodTimer.watch(ledger.currentPeriodEnd(), new Date().toISOString());
      await condition(() => entity.hasWork() || periodTimer.due || lifetime.due());
    } else {
      const periodEnd = ledger.currentPeriodEnd();
      await condition(
        () => entity.hasWork() || lifetime.due(),
        periodEnd ? Math.max(1, Date.parse(periodEnd) - new Date().getTime()) : undefined,
      );
    }
    entity.settle();
    if (lifetime.due()) {
      // Handlers are synchronous; waiting for them guards against an async one added later.
      await condition(allHandlersFinished);
      await lifetime.continueAsNew(entity.carryOver());
    }
    entity.flush();
  }
}

function throwIf(problem: string | undefined): void {
  if (problem) throw new Error(problem);
}

/** Bad config is rejected before it enters history. */
function validatePatch(
  current: Parameters<typeof mergeTenantConfig>[0],
  patch: Parameters<typeof mergeTenantConfig>[1],
): void {
  const parsed = tenantConfigPatchSchema.parse(patch);
  if (parsed.tenantId !== undefined && parsed.tenantId !== current.tenantId)
    throw new Error(`tenantId ${parsed.tenantId} does not match this entity's tenant ${current.tenantId}`);
  if (patch.alerts && !current.alerts && !patch.alerts.secretSealed)
    throw new Error('alerts.secret: required the first time alerts are set');
  tenantConfigSchema.parse(mergeTenantConfig(current, patch));
}

function validateAdmissions({ requests }: { requests: unknown }): void {
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_ADMISSIONS_PER_UPDATE)
    throw new Error(`requests must be a list of 1 to ${MAX_ADMISSIONS_PER_UPDATE} admission requests`);
  for (const r of requests as Array<Record<string, unknown>>) {
    if (
      typeof r?.runId !== 'string' ||
      typeof r.workflowId !== 'string' ||
      !Number.isInteger(r.priority) ||
      (r.priority as number) < 1 ||
      (r.priority as number) > 5
    ) {
      throw new Error(`each request needs runId, workflowId and a priority from 1 to 5; got ${JSON.stringify(r)}`);
    }
  }
}

/** A block lease request's shape, checked before it enters history. */
function validateBlockLease(request: BlockLeaseRequest): void {
  const id = /^[A-Za-z0-9._:-]{1,64}$/;
  const problems: string[] = [];
  if (typeof request?.starter !== 'string' || !id.test(request.starter))
    problems.push('starter: a name of 1-64 letters, digits, . _ : -');
  if (!Array.isArray(request?.used) || request.used.length > MAX_ADMISSIONS_PER_UPDATE)
    problems.push(`used: a list of at most ${MAX_ADMISSIONS_PER_UPDATE} runs`);
  else
    for (const u of request.used)
      if (
        typeof u?.blockId !== 'string' ||
        !id.test(u.blockId) ||
        typeof u.runId !== 'string' ||
        typeof u.workflowId !== 'string' ||
        !Number.isInteger(u.priority) ||
        !Number.isSafeInteger(u.leaseMicros) ||
        u.leaseMicros < 0 ||
        !Number.isSafeInteger(u.estimatedMicros)
      )
        problems.push(
          `used: each run needs blockId, runId, workflowId, priority, leaseMicros ≥ 0, estimatedMicros; got ${JSON.stringify(u)}`,
        );
  if (!Array.isArray(request?.handBack) || request.handBack.some((b: unknown) => typeof b !== 'string' || !id.test(b)))
    problems.push('handBack: a list of block ids');
  const want = request?.want;
  if (
    want !== undefined &&
    (typeof want?.blockId !== 'string' ||
      !id.test(want.blockId) ||
      !Number.isInteger(want.slots) ||
      want.slots < 1 ||
      !Number.isSafeInteger(want.micros) ||
      want.micros < 1 ||
      typeof want.ttlSeconds !== 'number')
  )
    problems.push('want: blockId, slots ≥ 1, micros ≥ 1 and ttlSeconds');
  if (problems.length > 0) throw new Error(problems.join('; '));
}

function parseOrFail<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ZodError) {
      throw ApplicationFailure.nonRetryable(
        `invalid tenant config: ${err.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`,
        'InvalidTenantConfig',
      );
    }
    throw err;
  }
}

function validateMove(input: { to: unknown }, handedOver: boolean): void {
  const to = input?.to;
  if (to === null && handedOver)
    throw new Error('the tenant handed its state over to the deployment it moved to: it cannot stay here any more');
  if (to !== null && (typeof to !== 'string' || to.trim().length === 0 || to.length > 200))
    throw new Error(
      `to must name where the tenant moves (1 to 200 characters), or be null to stay; got ${JSON.stringify(to)}`,
    );
}
