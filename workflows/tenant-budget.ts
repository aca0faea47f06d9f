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
  proxyActivities,
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
  type ApiToken,
  type CostEvent,
  type ExplorationReport,
  type ExplorationRequest,
  type LeaseGrant,
  type LeaseRequest,
  type TenantConfigInput,
  type TenantConfigPatch,
  type TenantLedgerState,
  type TenantPressure,
  type TenantStatus,
} from './policy/tenant';
import { BudgetStatusKey, TenantIdKey } from './search-attributes';
import { PRIOR_WEIGHT } from './policy/cost-model';
import { contributionFrom, priorValues, type PublishedPriors } from './policy/priors';
import type { ControlActivities } from './node-task';

// ── Message API ────────────────────────────────────────────────────────────────────────────────
/** Creates or changes the tenant's configuration. An update, so the caller learns at once whether it was accepted. */
export const configureTenantUpdate = defineUpdate<TenantStatus, [TenantConfigPatch]>('configure');
/** Current budget, spend, reservations, runs and archived periods. */
export const tenantStatusQuery = defineQuery<TenantStatus>('status');
/** Adds an API token by its hash (the API generates the token and shows it once). An update: the issuer must know it took. */
export const issueTokenUpdate = defineUpdate<Omit<ApiToken, 'hash'>, [{ id: string; hash: string }]>('issueToken');
/** Revokes an API token; its requests fail from the API's next check on. */
export const revokeTokenUpdate = defineUpdate<{ revoked: boolean }, [{ id: string }]>('revokeToken');
/** The active tokens' ids and hashes, for the API to check a bearer token against. */
export const authTokensQuery = defineQuery<Array<{ id: string; hash: string }>>('authTokens');
/**
 * A run asks for a slot and a first budget lease. A signal, not an update: a run may wait a long
 * time for room, and a long-pending update would hold one of the entity's ten in-flight update
 * slots all that while. The entity answers with `admissionDecision` on the run.
 */
export const requestAdmissionSignal = defineSignal<[AdmissionRequest]>('requestAdmission');
/** A run's lease ran short: it brings its costs so far and asks for more; answered by `leaseGranted`. */
export const requestLeaseSignal = defineSignal<[LeaseRequest]>('requestLease');
/** A batch of node costs; each idempotent on its `{runId}/{nodeId}` key. */
export const recordCostsSignal = defineSignal<[{ events: CostEvent[] }]>('recordCosts');
/** A run ended (or gave up waiting): charge its last costs, free its slot and its unspent reservation. */
export const releaseRunSignal = defineSignal<[{ runId: string; costs?: CostEvent[] }]>('releaseRun');
/** The entity's answer to `requestAdmission`, sent to the run. */
export const admissionDecisionSignal = defineSignal<[AdmissionDecision]>('admissionDecision');
/** The entity's answer to `requestLease`, sent to the run. */
export const leaseGrantedSignal = defineSignal<[LeaseGrant]>('leaseGranted');
/**
 * Sent to every run in flight when the tenant's config or budget status changes, so that each
 * run's next CostAgent decision sees it without asking. Rare by design: a few times a period.
 */
export const pressureChangedSignal = defineSignal<[{ runId: string; pressure: TenantPressure }]>('pressureChanged');

/**
 * A shadow exploration asks for learning money before it spends any; answered by
 * `explorationGranted`. A signal for the same reason as admission: the entity never holds an
 * update open for another workflow.
 */
export const requestExplorationSignal = defineSignal<[ExplorationRequest]>('requestExploration');
/** The entity's answer to `requestExploration`: the money granted (0 = no exploration now). */
export const explorationGrantedSignal = defineSignal<[{ explorationId: string; grantedMicros: number }]>('explorationGranted');
/** A shadow ended: its costs (charged to `learning`), its unspent grant back, and what it observed. */
export const settleExplorationSignal = defineSignal<[ExplorationReport]>('settleExploration');

/** Answers to runs and shadows, queued until the entity sends them (or carries them over a continue-as-new). */
export type Reply =
  | AdmissionReply
  | { workflowId: string; lease: LeaseGrant }
  | { workflowId: string; pressure: { runId: string; pressure: TenantPressure } }
  | { workflowId: string; exploration: { explorationId: string; grantedMicros: number } };

/** An opted-in tenant sends its statistics to meta-learning again after this many new cost samples. */
const CONTRIBUTE_EVERY_SAMPLES = 50;

const meta = proxyActivities<ControlActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 5 } });

export type TenantBudgetInput =
  | { config: TenantConfigInput; state?: undefined; outbox?: undefined }
  | { state: TenantLedgerState; outbox?: Reply[]; config?: undefined };

// ── Workflow ───────────────────────────────────────────────────────────────────────────────────
export async function tenantBudget(input: TenantBudgetInput): Promise<never> {
  const now = () => new Date().toISOString();
  const ledger = input.state ? new TenantLedger(input.state) : TenantLedger.create(parseOrFail(() => tenantConfigSchema.parse(input.config)), now());
  const outbox: Reply[] = input.outbox ? [...input.outbox] : [];
  let changed = true;
  let configChanged = false;
  const touched = <A extends unknown[]>(handler: (...args: A) => void) => (...args: A) => {
    handler(...args);
    changed = true;
  };

  setHandler(tenantStatusQuery, () => ledger.status());
  setHandler(authTokensQuery, () => ledger.activeTokens().map(({ id, hash }) => ({ id, hash })));
  setHandler(
    issueTokenUpdate,
    (token) => {
      changed = true;
      return ledger.addToken(token, now());
    },
    {
      validator: (token) => {
        const problem = ledger.tokenProblem(token);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(revokeTokenUpdate, ({ id }) => {
    changed = true;
    return { revoked: ledger.revokeToken(id, now()) };
  });
  setHandler(
    configureTenantUpdate,
    (patch) => {
      ledger.configure(patch, now());
      changed = true;
      configChanged = true;
      // A larger limit or budget may make room for waiting runs.
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
  setHandler(
    requestAdmissionSignal,
    touched((request) => outbox.push({ workflowId: request.workflowId, decision: ledger.requestAdmission(request, now()) })),
  );
  setHandler(
    requestLeaseSignal,
    touched((request) => {
      const workflowId = ledger.state.inFlight.find((r) => r.runId === request.runId)?.workflowId;
      const lease = ledger.topUpLease(request, now());
      if (workflowId) outbox.push({ workflowId, lease });
      outbox.push(...ledger.admitWaiting(now()));
    }),
  );
  setHandler(recordCostsSignal, touched(({ events }) => {
    ledger.recordCosts(events, now());
    outbox.push(...ledger.admitWaiting(now()));
  }));
  setHandler(releaseRunSignal, touched(({ runId, costs }) => {
    ledger.releaseRun(runId, costs ?? [], now());
    outbox.push(...ledger.admitWaiting(now()));
  }));
  setHandler(
    requestExplorationSignal,
    touched((request) => outbox.push({ workflowId: request.workflowId, exploration: { explorationId: request.explorationId, grantedMicros: ledger.requestExploration(request, now()) } })),
  );
  setHandler(settleExplorationSignal, touched((report) => {
    ledger.settleExploration(report, now());
    outbox.push(...ledger.admitWaiting(now()));
  }));

  // Meta-learning runs beside the entity's message handling, one exchange at a time; an exchange
  // cut short by a continue-as-new is simply made again by the next run.
  let metaBusy = false;
  const exchangeWithMetaLearning = () => {
    const learning = ledger.learning.state;
    const optIn = ledger.config.learning.metaLearningOptIn;
    const tenantId = ledger.config.tenantId;
    let exchange: (() => Promise<void>) | undefined;
    if (optIn && (!learning.metaOptIn || ledger.learning.samples() - learning.contributedSamples >= CONTRIBUTE_EVERY_SAMPLES)) {
      exchange = async () => {
        const samples = ledger.learning.samples();
        const priors = samples > 0 ? await meta.contributeCostStats({ tenantId, stats: contributionFrom(learning.costModel) }) : await meta.publishedPriors();
        learning.metaOptIn = true;
        learning.contributedSamples = samples;
        if (samples > 0) ledger.learning.noteMetaLearning(true, now(), samples);
        if (priors) applyPriors(priors);
      };
    } else if (!optIn && learning.metaOptIn) {
      exchange = async () => {
        await meta.withdrawCostStats({ tenantId });
        learning.metaOptIn = false;
      };
    }
    if (!exchange || metaBusy) return;
    metaBusy = true;
    exchange()
      .catch((err: unknown) => log.warn('meta-learning exchange failed; retried on a later change', { tenantId, error: String(err) }))
      .finally(() => {
        metaBusy = false;
        changed = true;
      });
  };
  const applyPriors = (priors: PublishedPriors) => ledger.learning.applyPriors(priors.version, priorValues(priors), PRIOR_WEIGHT, now());

  // Answers being sent: not awaited by the main loop, so a slow round trip never holds back the
  // entity's other work or its continue-as-new. Runs treat a repeated answer as a no-op.
  const sending = new Map<number, Reply>();
  let sent = 0;
  const send = (reply: Reply) => {
    const id = sent++;
    sending.set(id, reply);
    signalRun(reply).then(
      () => sending.delete(id),
      (err: unknown) => {
        sending.delete(id);
        // A run that no longer exists gives its slot back.
        log.warn('run did not take its answer; releasing what it held', { workflowId: reply.workflowId, error: String(err) });
        if ('exploration' in reply) ledger.learning.settleExploration(reply.exploration.explorationId, undefined, now(), { runId: '', nodeId: '' });
        else ledger.releaseRun(runIdOf(reply), [], now());
        outbox.push(...ledger.admitWaiting(now()));
        changed = true;
      },
    );
  };

  let published = '';
  let pushedStatus = ledger.budgetStatus();
  for (;;) {
    const periodEnd = ledger.currentPeriodEnd();
    const untilPeriodEnd = periodEnd ? Math.max(1, Date.parse(periodEnd) - Date.parse(now())) : undefined;
    await condition(() => changed || outbox.length > 0 || workflowInfo().continueAsNewSuggested, untilPeriodEnd);
    changed = false;
    for (const period of ledger.rolloverIfDue(now())) {
      log.info('budget period archived', { tenantId: ledger.config.tenantId, start: period.start, end: period.end, spentUsd: period.spentUsd });
      outbox.push(...ledger.admitWaiting(now()));
    }
    if (configChanged || ledger.budgetStatus() !== pushedStatus) {
      configChanged = false;
      pushedStatus = ledger.budgetStatus();
      for (const run of ledger.state.inFlight) outbox.push({ workflowId: run.workflowId, pressure: { runId: run.runId, pressure: ledger.pressureFor(run.runId) } });
    }
    if (workflowInfo().continueAsNewSuggested) {
      // Answers not yet acknowledged travel with the state and are sent again by the next run;
      // handlers are synchronous, and waiting for them guards against an async one added later.
      await condition(allHandlersFinished);
      await continueAsNew<typeof tenantBudget>({ state: ledger.state, outbox: [...sending.values(), ...outbox] });
    }
    for (const reply of outbox.splice(0)) send(reply);
    exchangeWithMetaLearning();
    published = publish(ledger, published);
  }
}

function runIdOf(reply: Exclude<Reply, { exploration: unknown }>): string {
  return 'decision' in reply ? reply.decision.runId : 'lease' in reply ? reply.lease.runId : reply.pressure.runId;
}

function signalRun(reply: Reply): Promise<void> {
  const run = getExternalWorkflowHandle(reply.workflowId);
  if ('decision' in reply) return run.signal(admissionDecisionSignal, reply.decision);
  if ('lease' in reply) return run.signal(leaseGrantedSignal, reply.lease);
  if ('exploration' in reply) return run.signal(explorationGrantedSignal, reply.exploration);
  return run.signal(pressureChangedSignal, reply.pressure);
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
      `\`${'█'.repeat(filled)}${'░'.repeat(20 - filled)}\` $${status.spentUsd.toFixed(4)} of $${status.budgetUsd} (${(status.utilization * 100).toFixed(1)}%) · reserved $${status.reservedUsd.toFixed(4)}`,
      '',
      `runs in flight: ${status.runsInFlight.length} / ${status.config.maxConcurrentRuns} · waiting: ${status.runsWaiting.length}`,
      '',
      `period: ${status.periodStart}${status.periodEnd ? ` → ${status.periodEnd}` : ' (no end)'} · archived periods: ${status.archivedPeriods.length}`,
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
