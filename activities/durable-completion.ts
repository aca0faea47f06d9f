/**
 * Node completions that survive a failover. In a regional deployment (ADOS_REGION set) a node
 * activity hands its result to Temporal itself, through the worker's client, retrying while its
 * namespace moves between regions; if Temporal no longer knows that attempt (the new active region
 * ran it again, or the run ended), the execution really happened and really cost money, so its
 * charge goes to the tenant's entity directly. Every charge is keyed by the execution's own id:
 * whichever of the run and this path reports it first charges it, the other is a repeat.
 */
import { randomBytes } from 'node:crypto';
import { ActivityNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { NodeOutcome } from '../workflows/domain/run/run-state';
import type { NodeTask } from '../workflows/ports/activities';
import type { CostEvent } from '../workflows/domain/tenant/entity-payloads';
import { recordCostsSignal } from '../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { nodeChargeKey } from '../workflows/domain/run/charge-key';
import { activeRegionOf } from '../infra/cluster/regions/served';

/** An execution's id: 64 random bits, short enough for the entity's memory of charged keys. */
export function newExecutionId(): string {
  return randomBytes(8).toString('base64url');
}

/** How long a completion keeps trying while Temporal does not answer (a failover takes seconds; a region's loss, minutes). */
const COMPLETION_DEADLINE_MS = 15 * 60_000;

async function retrying<T>(
  what: string,
  log: Logger,
  call: () => Promise<T>,
  isFinal: (err: unknown) => boolean,
  deadlineMs = COMPLETION_DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
    try {
      return await call();
    } catch (err) {
      if (isFinal(err) || Date.now() > deadline) throw err;
      log.warn({ error: String(err), retryInMs: wait }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * A node's heartbeats through `client` while its worker's region is not the active one for its
 * namespace, in a regional deployment: the worker polls only its own region
 * (infra/worker-connection.ts), so once a planned failover made that region standby, the worker's
 * own heartbeats are refused there, and the new active region, hearing none, would time the attempt
 * out and run the node again (an LLM node billed twice). The client's calls are forwarded to the
 * active region, as completions are. While this region is active they are not sent: every
 * heartbeat is a write, replicated. One call at a time; a failed one is dropped (the next comes an
 * interval later). Returns the stop function.
 */
export function heartbeatThrough(
  getClient: () => Promise<Client>,
  taskToken: Uint8Array,
  { everyMs, region, log }: { everyMs: number; region: string; log: Logger },
): () => void {
  let sending = false;
  let sentAt = 0;
  // Checked each second, so that the first heartbeat through the client follows the switch closely.
  const timer = setInterval(() => {
    if (sending || Date.now() - sentAt < everyMs) return;
    sending = true;
    getClient()
      .then(async (client) => {
        const active = await activeRegionOf(client.connection, client.options.namespace);
        if (active === undefined || active === region) return;
        sentAt = Date.now();
        await client.activity.heartbeat(taskToken);
      })
      .catch((err: unknown) => log.debug({ error: String(err) }, 'node heartbeat through the client failed'))
      .finally(() => (sending = false));
  }, 1000);
  return () => clearInterval(timer);
}

/**
 * Completes the activity with its outcome through `client`, or, when Temporal no longer has this
 * attempt or did not take the completion before `deadlineMs`, charges the execution to its tenant
 * as an execution of its own (key `{run}/{node}#{id}`): it ran and cost money whatever became of
 * its completion, and if the completion did land after all, the run's charge has the same key and
 * the entity counts it once. Temporal runs an attempt it never heard from again, as a new execution.
 */
export async function completeDurably(
  client: Client,
  activity: { taskToken: Uint8Array; activityId: string; workflowId: string },
  task: NodeTask,
  kind: string,
  outcome: NodeOutcome & { executionId: string },
  log: Logger,
  { deadlineMs = COMPLETION_DEADLINE_MS } = {},
): Promise<'completed' | 'charged apart'> {
  try {
    // Sealed for the run's tenant, as the worker would have sealed it.
    const serializationContext = {
      type: 'activity' as const,
      namespace: client.options.namespace,
      activityId: activity.activityId,
      workflowId: activity.workflowId,
      isLocal: false,
    };
    await retrying(
      'node completion',
      log,
      () => client.activity.complete(activity.taskToken, outcome, { serializationContext }),
      (err) => err instanceof ActivityNotFoundError,
      deadlineMs,
    );
    return 'completed';
  } catch (err) {
    if (!(err instanceof ActivityNotFoundError))
      log.error(
        { error: String(err), executionId: outcome.executionId },
        'node completion not taken before its deadline: the execution is charged apart',
      );
  }
  const event: CostEvent = {
    key: nodeChargeKey(task.runId, task.nodeId, outcome.executionId),
    runId: task.runId,
    nodeId: task.nodeId,
    category: outcome.category,
    costMicros: outcome.costMicros,
    kind,
    ...(outcome.model ? { model: outcome.model } : {}),
    ...(outcome.pricing ? { pricing: outcome.pricing } : {}),
  };
  await retrying(
    'charge of an execution its run did not take',
    log,
    () =>
      client.workflow.getHandle(tenantBudgetWorkflowId(task.tenantId)).signal(recordCostsSignal, { events: [event] }),
    () => false,
    deadlineMs,
  ).catch((err: unknown) => {
    // Everything an operator needs to charge it by hand (`ados tenant` has no such command: the entity's recordCosts signal).
    log.error({ error: String(err), event }, 'node execution NOT charged: its tenant could not be reached');
    throw err;
  });
  log.warn(
    { executionId: outcome.executionId, costMicros: outcome.costMicros },
    'node execution charged apart: its run did not take it',
  );
  return 'charged apart';
}
