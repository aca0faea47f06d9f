/** The control queue's activities: a run's launch settings, releasing the slots of closed runs, tenant refreshes. */
import { SharedFetches } from '../infra/shared-fetch';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { releaseRunSignal, tenantStatusQuery } from '../workflows/messages/tenant-budget';
import { progressQuery, type RunLaunch } from '../workflows/messages/delivery-run';
import { costEventsOf } from '../workflows/domain/run/run-state';
import { deliveryRunWorkflowId, parseDeliveryRunWorkflowId } from '../workflows/domain/ids';
import type { BlockRun } from '../workflows/domain/admission/blocks';
import { temporalClient, temporalTarget, type TemporalTarget } from '../infra/temporal-connection';
import { environment, loadConfig, nodePartitions } from '../infra/config';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsRoot, json, writeFileAtomic } from './export/atomic';
import { logger } from '../infra/logging/logger';
import { parseTenantBudgetWorkflowId, tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { createPriorsActivities } from './priors';
import type { PriorsConfig } from '../workflows/domain/learning/priors';
import type {
  ControlActivities,
  DeploymentSettings,
  ExportActivities,
  SlotActivities,
} from '../workflows/ports/activities';
import { exportFinished, exportRun, exportTenant } from './export/exporter';
import { writeQueueState } from './export/queue-state';
import { nodeKinds } from './nodes/registry';
import { runPrices } from './pricing';

/**
 * A run terminated from outside never releases its slot, nor does one admitted by a starter that
 * died before starting it, and an admitted run's release (sent by its worker) can be lost with the
 * worker. The sweep finds runs the entity still counts as in flight whose workflows have closed (or,
 * a minute after admission, never started), and releases them with the costs their results record
 * (each idempotent on its key, so costs the entity already has are not charged again).
 */
export async function releaseClosedRuns(
  client: Client,
  tenantId: string,
  { now = Date.now(), signal }: { now?: number; signal?: AbortSignal } = {},
): Promise<string[]> {
  const entity = client.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
  const status = await entity.query(tenantStatusQuery);
  const released: string[] = [];
  const held = [...status.runsInFlight, ...status.runsWaiting];
  if (held.length === 0) return released;
  // The tenant's open runs, a page of visibility per thousand: only the runs not among them (closed,
  // never started, or started too recently to be listed) are looked at one by one. Describing every
  // held run made each sweep of a burst of 10,000 queued runs 10,000 calls.
  const open = new Set<string>();
  for await (const run of client.workflow.list({
    query: `WorkflowType = 'deliveryRun' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH '${deliveryRunWorkflowId(tenantId, '')}'`,
  }))
    open.add(run.workflowId);
  for (const run of held) {
    if (open.has(run.workflowId)) continue;
    signal?.throwIfAborted();
    // A run is admitted just before it starts: give its starter time to start it.
    const admittedAt = Date.parse('admittedAt' in run ? run.admittedAt : run.requestedAt);
    const closed = await client.workflow
      .getHandle(run.workflowId)
      .describe()
      .then(
        (d) => d.status.name !== 'RUNNING',
        (err: unknown) => err instanceof WorkflowNotFoundError && now - admittedAt > NEVER_STARTED_AFTER_MS,
      );
    if (!closed) continue;
    const result = await client.workflow
      .getHandle(run.workflowId)
      .query(progressQuery)
      .catch(() => undefined);
    await entity.signal(releaseRunSignal, { runId: run.runId, costs: result ? costEventsOf(result) : [] });
    released.push(run.runId);
  }
  return released;
}

/** The tenants whose entities run. */
async function runningTenants(client: Client): Promise<string[]> {
  const tenants: string[] = [];
  for await (const entity of client.workflow.list({
    query: `WorkflowType = 'tenantBudget' AND ExecutionStatus = 'Running'`,
  })) {
    const tenantId = parseTenantBudgetWorkflowId(entity.workflowId);
    if (tenantId) tenants.push(tenantId);
  }
  return tenants;
}

/** An admitted run whose workflow does not exist this long after admission was never started. */
const NEVER_STARTED_AFTER_MS = 60_000;

/** A Temporal client connected on first use (through the one connection factory) and shared by every caller. */
export function lazyClient(target: TemporalTarget = temporalTarget()): () => Promise<Client> {
  let client: Promise<Client> | undefined;
  return () => (client ??= temporalClient(target));
}

/**
 * The launch a run started bare gets from its worker: the same function every other door's starter
 * calls (api/client/launch.ts), handed in by the worker's assembly. Of its outcome the activity
 * passes on the launch, or the problems that make the run invalid.
 */
export type RunLauncher = (
  client: Client,
  input: unknown,
  options: { knownKinds: readonly string[]; authoritativeKinds: boolean; nodePartitions: number; workflowId: string },
) => Promise<{ ok: true; launch?: RunLaunch } | { ok: false; problems: string[] }>;

/**
 * Activities of the control worker: local ones the workflows call for facts only a process knows,
 * and the exporter, which reads histories through the worker's client.
 */
export function createControlActivities(
  launchRun: RunLauncher,
  getClient: () => Promise<Client> = lazyClient(),
): ControlActivities & ExportActivities & SlotActivities {
  return {
    ...createPriorsActivities(getClient, () => priorsConfigFromEnv()),
    async exportRunArtifacts({ tenantId, runId }) {
      const c = await getClient();
      const outcome = await exportRun(c, tenantId, runId);
      // The run starts its exporter just before it closes; a retry finds it closed.
      if (!outcome.exported && outcome.reason === 'still running')
        throw ApplicationFailure.retryable(`run ${runId} has not closed yet`, 'RunStillOpen');
      const tenantFiles = await refreshTenant(tenantId, () => exportTenant(c, tenantId)).catch(() => []);
      return { files: [...(outcome.files ?? []), ...tenantFiles] };
    },
    async exportPendingArtifacts() {
      const c = await getClient();
      // Runs closed since the last sweep (with a margin for visibility to catch up); the first sweep takes every run.
      const began = new Date();
      const since = readSweepWatermark();
      const { runs, tenants, tenantErrors } = await exportFinished(
        c,
        since ? { closedSince: new Date(Date.parse(since) - SWEEP_OVERLAP_MS).toISOString() } : {},
      );
      // Every tenant's files are refreshed periodically, not only those with newly finished runs.
      const { cancellationSignal } = Context.current();
      for (const tenantId of await runningTenants(c)) {
        cancellationSignal.throwIfAborted();
        if (!(tenantId in tenants) && !(tenantId in tenantErrors))
          await exportTenant(c, tenantId).catch((err: Error) => (tenantErrors[tenantId] = err.message));
      }
      // A tenant whose files could not be written is reported; the next sweep tries it again.
      for (const [tenantId, error] of Object.entries(tenantErrors))
        logger.warn({ tenantId, error }, 'tenant artifacts not exported');
      const queues = await writeQueueState(c, nodePartitions());
      writeFileAtomic(sweepWatermarkFile(), json({ since: began.toISOString() }));
      return { exported: runs.filter((r) => r.exported).length, queues, failedTenants: Object.keys(tenantErrors) };
    },
    async reclaimSlots() {
      const c = await getClient();
      const { cancellationSignal: signal } = Context.current();
      let released = 0;
      for (const tenantId of await runningTenants(c)) {
        signal.throwIfAborted();
        released += (await releaseClosedRuns(c, tenantId, { signal })).length;
      }
      return { released };
    },
    async deploymentSettings(run): Promise<DeploymentSettings> {
      const config = loadConfig();
      const kinds = nodeKinds()
        .map((k) => k.kind)
        .sort();
      const settings = { nodePartitions: config.ADOS_NODE_PARTITIONS, nodeKinds: kinds };
      if (!run) return { ...settings, prices: runPrices() };
      const outcome = await launchRun(await getClient(), run.input, {
        knownKinds: kinds,
        authoritativeKinds: true,
        nodePartitions: config.ADOS_NODE_PARTITIONS,
        workflowId: run.workflowId,
        ...(run.startedAt ? { startedAt: run.startedAt } : {}),
      });
      // This worker knows every kind it runs, so a valid run always gets its launch here (its prices with it).
      return { ...settings, launched: outcome.ok ? { launch: outcome.launch! } : { problems: outcome.problems } };
    },
    async laplaceUniforms({ count }) {
      return secureUniforms(count);
    },
    async blockRuns({ tenantId, blockId }) {
      const c = await getClient();
      const runs: BlockRun[] = [];
      for await (const run of c.workflow.list({
        query: `WorkflowType = 'deliveryRun' AND TenantId = '${tenantId}' AND AdmissionBlock = '${blockId}'`,
      })) {
        const parsed = parseDeliveryRunWorkflowId(run.workflowId);
        if (parsed)
          runs.push({ runId: parsed.runId, workflowId: run.workflowId, running: run.status.name === 'RUNNING' });
      }
      return runs;
    },
  };
}

/**
 * Coalesces tenant-file refreshes: each run's export wants its tenant's files current, but a
 * refresh reads every exported summary of the tenant, so one per run would cost O(runs²) under
 * load. Callers arriving while a refresh runs share the next one, which starts after it; so
 * every caller still returns with files at least as new as its own run.
 */
const tenantRefreshes = new SharedFetches<string[]>();
export function refreshTenant(tenantId: string, refresh: () => Promise<string[]>): Promise<string[]> {
  return tenantRefreshes.after(tenantId, tenantRefreshes.mark(), refresh);
}

/** Uniform draws in (-0.5, 0.5) from 48 random bits each, never exactly ±0.5. */
export function secureUniforms(count: number): number[] {
  if (!Number.isInteger(count) || count < 0 || count > 100_000)
    throw ApplicationFailure.nonRetryable(`count must be an integer from 0 to 100000, got ${count}`, 'InvalidInput');
  const bytes = randomBytes(6 * count);
  return Array.from({ length: count }, (_, i) => (bytes.readUIntBE(6 * i, 6) + 0.5) / 2 ** 48 - 0.5);
}

/** The priors' privacy settings: ADOS_META_EPSILON (default 1) and ADOS_META_PUBLISH_SECONDS (default 3600). */
export function priorsConfigFromEnv(env: NodeJS.ProcessEnv = environment()): Partial<PriorsConfig> {
  const config = loadConfig(env);
  return {
    epsilon: config.ADOS_META_EPSILON,
    publishIntervalSeconds: config.ADOS_META_PUBLISH_SECONDS,
    epsilonTotal: config.ADOS_META_EPSILON_TOTAL,
    accountingSeconds: config.ADOS_META_ACCOUNTING_SECONDS,
  };
}

/** A sweep looks this far behind its watermark, for runs visibility listed late. */
const SWEEP_OVERLAP_MS = 60_000;

function sweepWatermarkFile(): string {
  return join(artifactsRoot(), 'execution', 'export_sweep.json');
}

/** When the last complete sweep began, or undefined before the first. */
function readSweepWatermark(): string | undefined {
  try {
    const since = (JSON.parse(readFileSync(sweepWatermarkFile(), 'utf8')) as { since?: unknown }).since;
    return typeof since === 'string' && !Number.isNaN(Date.parse(since)) ? since : undefined;
  } catch {
    return undefined;
  }
}
