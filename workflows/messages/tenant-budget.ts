/**
 * The tenantBudget entity's message API: every signal, update and query it takes or sends, declared
 * once. Workflows, clients and tests import these; nothing here builds a schema or holds state, so
 * importing it costs a workflow nothing.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AdmissionDecision,
  AdmissionRequest,
  AdmissionTicket,
  CostEvent,
  ExplorationReport,
  ExplorationRequest,
  LeaseGrant,
  LeaseRequest,
  QuoteInputs,
  TenantPressure,
} from '../domain/tenant/entity-payloads';
import type { ApiToken } from '../domain/tenant/api-tokens';
import type { AlertSettlement } from '../domain/alerts/budget-alerts';
import type { TenantConfigPatch } from '../domain/tenant/tenant-config';
import type { TenantStatus } from '../domain/tenant/tenant-status';
import type { BlockLeaseRequest } from '../domain/admission/blocks';
import type { BlockLeaseAnswer, TenantHandover } from '../domain/tenant/ledger';

/** Creates or changes the tenant's configuration. An update, so the caller learns at once whether it was accepted. */
export const configureTenantUpdate = defineUpdate<TenantStatus, [TenantConfigPatch]>('configure');
/** Current budget, spend, reservations, runs and archived periods. */
export const tenantStatusQuery = defineQuery<TenantStatus>('status');
/** Adds an API token by its hash (the API generates the token and shows it once). An update: the issuer must know it took. */
export const issueTokenUpdate = defineUpdate<Omit<ApiToken, 'hash'>, [{ id: string; hash: string }]>('issueToken');
/** Revokes an API token; its requests fail from the API's next check on. */
export const revokeTokenUpdate = defineUpdate<{ revoked: boolean }, [{ id: string }]>('revokeToken');
/** What a quote needs from the tenant: its learned cost model and preferences, its negotiated rates. */
export const quoteInputsQuery = defineQuery<QuoteInputs>('quoteInputs');
/** The active tokens' ids and hashes, for the API to check a bearer token against. */
export const authTokensQuery = defineQuery<Array<{ id: string; hash: string }>>('authTokens');

/**
 * The tenant moves to another deployment (`to` names it, for the answer its new runs get), or
 * stays (`null`): from then on it admits no new run, and its runs end here (`ados tenant move-in`).
 * With `handOver`, once nothing holds it, it hands its state over and takes no run at all after that.
 */
export const moveOutUpdate = defineUpdate<TenantHandover, [{ to: string | null; handOver?: boolean }]>('moveOut');
/** What still holds a moving tenant here, and once nothing does, its whole state. */
export const handoverQuery = defineQuery<TenantHandover>('handover');

/** Most runs one admitRuns update may ask for. */
export const MAX_ADMISSIONS_PER_UPDATE = 500;

/**
 * Admission before a run starts: whoever starts runs through ADOS (CLI, API, demo) asks for a batch
 * of them at once and passes each run its ticket, so an admitted run needs no message to begin.
 * An update answers at once and never waits: a run with no room now gets `QUEUE` and queues itself
 * with `requestAdmission` when it starts (a long-pending update would hold one of the entity's few
 * in-flight update slots).
 */
export const admitRunsUpdate = defineUpdate<
  Array<AdmissionTicket | { kind: 'QUEUE'; runId: string }>,
  [{ requests: AdmissionRequest[] }]
>('admitRuns');
/**
 * A run started without a ticket (from the Temporal CLI, or one that must wait) asks for a slot and
 * a first budget lease; the entity answers with `admissionDecision` on the run. A signal, not an
 * update, because the answer may take as long as the queue.
 */
export const requestAdmissionSignal = defineSignal<[AdmissionRequest]>('requestAdmission');
/** A run's lease ran short: it brings its costs so far and asks for more; answered by `leaseGranted`. */
export const requestLeaseSignal = defineSignal<[LeaseRequest]>('requestLease');
/** A batch of node costs; each idempotent on its `{runId}/{nodeId}` key. */
export const recordCostsSignal = defineSignal<[{ events: CostEvent[] }]>('recordCosts');
/** A run ended (or gave up waiting): charge its last costs, free its slot and its unspent reservation. */
export const releaseRunSignal = defineSignal<[RunRelease]>('releaseRun');
/** One run's release, as `releaseRun` carries it. */
export type RunRelease = { runId: string; costs?: CostEvent[]; block?: BlockRelease };
/**
 * Several runs' releases in one signal: a worker whose runs end while its last release to the
 * tenant is on its way sends the next ones together (each is applied as `releaseRun` would).
 */
export const releaseRunsSignal = defineSignal<[{ releases: RunRelease[] }]>('releaseRuns');
/** At most this many releases travel in one `releaseRuns` signal. */
export const MAX_RELEASES_PER_SIGNAL = 200;
/** A run admitted from a starter's block names it in its release, with the lease its starter gave it. */
export interface BlockRelease {
  blockId: string;
  leaseMicros: number;
}
/**
 * A long-lived starter (the HTTP API) leases blocks of admissions and admits runs against them
 * itself; in one update it reports the runs it started from its blocks, hands back the blocks it is
 * done with, and asks for a new one (workflows/domain/admission/blocks.ts).
 */
export const leaseBlocksUpdate = defineUpdate<BlockLeaseAnswer, [BlockLeaseRequest]>('leaseBlocks');
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
export const explorationGrantedSignal =
  defineSignal<[{ explorationId: string; grantedMicros: number }]>('explorationGranted');
/** A shadow ended: its costs (charged to `learning`), its unspent grant back, and what it observed. */
export const settleExplorationSignal = defineSignal<[ExplorationReport]>('settleExploration');

/** A budgetAlert workflow tells the entity how its delivery ended (sent, or failed for good). */
export const alertSettledSignal = defineSignal<[AlertSettlement]>('alertSettled');
