import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ZodError } from 'zod';
import {
  TenantLedger,
  mergeTenantConfig,
  tenantConfigPatchSchema,
  tenantConfigSchema,
  type AdmissionDecision,
  type AdmissionReply,
  type AdmissionRequest,
  type CostEvent,
  type TenantConfigInput,
  type TenantConfigPatch,
  type TenantLedgerState,
  type TenantStatus,
} from './policy/tenant';
import { BudgetStatusKey, TenantIdKey } from './search-attributes';

// ── Message API ────────────────────────────────────────────────────────────────────────────────
/** Creates or changes the tenant's configuration. An update, so the caller learns at once whether it was accepted. */
export const configureTenantUpdate = defineUpdate<TenantStatus, [TenantConfigPatch]>('configure');
/** Current budget, spend and runs. */
export const tenantStatusQuery = defineQuery<TenantStatus>('status');
/**
 * A run asks for a slot. A signal, not an update: a run may wait a long time for room, and a
 * long-pending update would hold one of the entity's ten in-flight update slots all that while.
 * The entity answers with `admissionDecision` on the run.
 */
export const requestAdmissionSignal = defineSignal<[AdmissionRequest]>('requestAdmission');
/** A run ended (or gave up waiting): free its slot. */
export const releaseRunSignal = defineSignal<[{ runId: string }]>('releaseRun');
/** A node's actual cost; idempotent on its `{runId}/{nodeId}` key. */
export const recordCostSignal = defineSignal<[CostEvent]>('recordCost');
/** The entity's answer to `requestAdmission`, sent to the run's workflow. */
export const admissionDecisionSignal = defineSignal<[AdmissionDecision]>('admissionDecision');

export type TenantBudgetInput = { config: TenantConfigInput; state?: undefined } | { state: TenantLedgerState; config?: undefined };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
export async function tenantBudget(input: TenantBudgetInput): Promise<never> {
  const ledger = input.state ? new TenantLedger(input.state) : TenantLedger.create(parseOrFail(() => tenantConfigSchema.parse(input.config)));
  const outbox: AdmissionReply[] = [];
  const now = () => new Date().toISOString();

  let changed = true;
  setHandler(tenantStatusQuery, () => ledger.status());
  setHandler(
    configureTenantUpdate,
    (patch) => {
      ledger.configure(patch);
      changed = true;
      // A larger limit may make room for waiting runs.
      outbox.push(...ledger.admitWaiting(now()));
      return ledger.status();
    },
    {
      // Bad config is rejected before it enters history.
      validator: (patch) => {
        const parsed = tenantConfigPatchSchema.parse(patch);
        if (parsed.tenantId !== undefined && parsed.tenantId !== ledger.config.tenantId) {
          throw new Error(`tenantId ${parsed.tenantId} does not match this entity's tenant ${ledger.config.tenantId}`);
        }
        tenantConfigSchema.parse(mergeTenantConfig(ledger.config, patch));
      },
    },
  );
  setHandler(requestAdmissionSignal, (request) => {
    const decision = ledger.requestAdmission(request, now());
    outbox.push({ workflowId: request.workflowId, decision });
    changed = true;
  });
  setHandler(releaseRunSignal, ({ runId }) => {
    if (ledger.releaseRun(runId)) outbox.push(...ledger.admitWaiting(now()));
    changed = true;
  });
  setHandler(recordCostSignal, (event) => {
    const before = ledger.budgetStatus();
    if (!ledger.recordCost(event)) log.info('ignored repeated cost event', { key: event.key });
    if (ledger.budgetStatus() === 'EXCEEDED' && before !== 'EXCEEDED') outbox.push(...ledger.admitWaiting(now()));
    changed = true;
  });

  let published = '';
  for (;;) {
    await condition(() => changed || outbox.length > 0 || workflowInfo().continueAsNewSuggested);
    changed = false;
    await deliver(outbox.splice(0), ledger);
    published = publish(ledger, published);
    if (workflowInfo().continueAsNewSuggested && outbox.length === 0) {
      // Let running handlers finish so that no message is lost, then carry the whole state over.
      await condition(allHandlersFinished);
      if (outbox.length === 0) await continueAsNew<typeof tenantBudget>({ state: ledger.state });
    }
  }
}

/** Sends every decision to its run at once; a run that no longer exists gives its slot back. */
async function deliver(replies: AdmissionReply[], ledger: TenantLedger): Promise<void> {
  const sent = await Promise.allSettled(replies.map(({ workflowId, decision }) => getExternalWorkflowHandle(workflowId).signal(admissionDecisionSignal, decision)));
  sent.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    const { workflowId, decision } = replies[i]!;
    log.warn('run did not take its admission decision; releasing its slot', { workflowId, error: String(outcome.reason) });
    ledger.releaseRun(decision.runId);
  });
}

/** Shows the budget gauge in the Web UI; upserts search attributes only when the status changes. */
function publish(ledger: TenantLedger, published: string): string {
  const status = ledger.status();
  if (status.budgetStatus !== published) {
    upsertSearchAttributes([
      { key: TenantIdKey, value: status.tenantId },
      { key: BudgetStatusKey, value: status.budgetStatus },
    ]);
  }
  const filled = Math.min(20, Math.round(status.utilization * 20));
  setCurrentDetails(
    [
      `**${status.tenantId}** · ${status.budgetStatus}`,
      '',
      `\`${'█'.repeat(filled)}${'░'.repeat(20 - filled)}\` $${status.spentUsd.toFixed(4)} of $${status.budgetUsd} (${(status.utilization * 100).toFixed(1)}%)`,
      '',
      `runs in flight: ${status.runsInFlight.length} / ${status.config.maxConcurrentRuns} · waiting: ${status.runsWaiting.length}`,
    ].join('\n'),
  );
  return status.budgetStatus;
}

function parseOrFail<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ZodError) {
      throw ApplicationFailure.nonRetryable(`invalid tenant config: ${err.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`, 'InvalidTenantConfig');
    }
    throw err;
  }
}
