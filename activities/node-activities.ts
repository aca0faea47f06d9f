/** The node activity: runs one DAG node of a kind, heartbeating, and returns its output and cost. */
import { ApplicationFailure, CancelledFailure, CompleteAsyncError, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { NodeOutcome } from '../workflows/domain/run/run-state';
import type { NodeActivity, NodeTask } from '../workflows/ports/activities';
import { logger } from '../infra/logging/logger';
import { loadConfig } from '../infra/config';
import { NodeInputError, type NodeKind } from './nodes/kind';
import { nodeKinds } from './nodes/registry';
import { completeDurably, heartbeatThrough, newExecutionId } from './durable-completion';

/** Heartbeats let Temporal notice a dead worker within the node's heartbeat timeout, and deliver cancellation. */
const HEARTBEAT_INTERVAL_MS = 2000;
/**
 * Heartbeats through the worker's client (a region's nodes, while another region is active), at
 * most this often: with the worker's own at most 4 s apart in a region (workers/ados-worker.ts),
 * a node's last heartbeat is under its 10-s timeout old when the region stops being active.
 */
const CLIENT_HEARTBEAT_INTERVAL_MS = 3000;
/** A node output larger than this would bloat the run's history; such nodes should write artifacts instead. */
const MAX_OUTPUT_CHARS = 64_000;

export interface NodeActivityOptions {
  /**
   * In a regional deployment: the worker's client, through which each node completes itself so
   * that its completion and charge survive a failover (./durable-completion.ts).
   */
  durableCompletion?: () => Promise<Client>;
}

function asNodeActivity(kind: NodeKind, options: NodeActivityOptions): NodeActivity {
  return async (task: NodeTask): Promise<NodeOutcome> => {
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    const log = logger.child({
      tenantId: task.tenantId,
      runId: task.runId,
      nodeId: task.nodeId,
      kind: kind.kind,
      attempt,
    });
    const started = Date.now();
    const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
    // In a region, heartbeats also go through the worker's client while another region is active (after a failover).
    const region = loadConfig().ADOS_REGION;
    const stopClientHeartbeats =
      options.durableCompletion && region
        ? heartbeatThrough(options.durableCompletion, ctx.info.taskToken, {
            everyMs: CLIENT_HEARTBEAT_INTERVAL_MS,
            region,
            log,
          })
        : undefined;
    log.info('node started');
    try {
      const execution = await kind.execute(task, {
        signal: ctx.cancellationSignal,
        attempt,
        sleep: (ms) => ctx.sleep(ms),
      });
      if (JSON.stringify(execution.output ?? null).length > MAX_OUTPUT_CHARS) {
        throw new NodeInputError(`node ${task.nodeId} output exceeds ${MAX_OUTPUT_CHARS} characters`);
      }
      const durationMs = Date.now() - started;
      log.info({ costMicros: execution.costMicros, durationMs }, 'node completed');
      const outcome = {
        output: execution.output,
        costMicros: execution.costMicros,
        category: kind.category,
        attempt,
        ...(execution.model ? { model: execution.model } : {}),
        ...(execution.pricing ? { pricing: execution.pricing } : {}),
        durationMs,
        executionId: newExecutionId(),
      };
      if (!options.durableCompletion) return outcome;
      // Heartbeats go on while it completes, so that Temporal does not run the node again meanwhile.
      await completeDurably(
        await options.durableCompletion(),
        {
          taskToken: ctx.info.taskToken,
          activityId: ctx.info.activityId,
          workflowId: ctx.info.workflowExecution?.workflowId ?? '',
        },
        task,
        kind.kind,
        outcome,
        log,
      );
      throw new CompleteAsyncError();
    } catch (err) {
      if (err instanceof CompleteAsyncError) throw err;
      if (err instanceof CancelledFailure) {
        log.info('node cancelled');
        throw err;
      }
      log.warn({ error: String(err), durationMs: Date.now() - started }, 'node attempt failed');
      throw toNodeFailure(err, attempt);
    } finally {
      clearInterval(heartbeat);
      stopClientHeartbeats?.();
    }
  };
}

/** Every node failure is typed and carries the attempt that raised it, for the run's result. */
function toNodeFailure(err: unknown, attempt: number): ApplicationFailure {
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type ?? 'NodeFailed',
      nonRetryable: err.nonRetryable ?? false,
      details: [{ attempt }],
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof NodeInputError)
    return ApplicationFailure.create({ message, type: 'NodeInputError', nonRetryable: true, details: [{ attempt }] });
  return ApplicationFailure.create({
    message,
    type: err instanceof Error ? err.name : 'NodeFailed',
    details: [{ attempt }],
  });
}

/** One activity per registered node kind, named after the kind (it shows as the activity type in the Web UI). */
export function createNodeActivities(options: NodeActivityOptions = {}): Record<string, NodeActivity> {
  return Object.fromEntries(nodeKinds().map((kind) => [kind.kind, asNodeActivity(kind, options)]));
}
