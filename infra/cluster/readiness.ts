/** Whether a cluster's server is ready for ADOS: answering, its namespace registered with ADOS's search attributes, and a probe run listable by them. */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { ADOS_SEARCH_ATTRIBUTES, TenantIdKey } from '../../workflows/ports/search-attributes';
import { temporalAnswers } from '../dev-server';
import type { TemporalTarget } from '../temporal-connection';
import { UserError } from '../user-error';
import type { ClusterState } from './layout';
import { logTail, pidAlive } from './processes';
import { clusterTarget } from './target';

export const SA_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

export async function answersWithin(target: TemporalTarget, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  do {
    if (await temporalAnswers(target, 2000)) return true;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < deadline);
  return false;
}

/** Registers the namespace and ADOS's search attributes, then waits until a probe workflow starts. */
export async function waitReady(state: ClusterState, timeoutMs: number, serverLog: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const target = clusterTarget(state);
  let last = '';
  while (Date.now() < deadline) {
    if (!pidAlive(state.pids.server))
      throw new UserError(
        `Temporal Server exited while starting: ${logTail(serverLog)} (log ${serverLog})`,
        'UNAVAILABLE',
      );
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 2000 });
      await registerNamespace(connection, state.namespace);
      await connection.operatorService.addSearchAttributes({
        namespace: state.namespace,
        searchAttributes: Object.fromEntries(ADOS_SEARCH_ATTRIBUTES.map((k) => [k.name, SA_TYPES[k.type]!])),
      });
      await probeWorkflow(connection, state.namespace);
      return;
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new UserError(
    `Temporal Server did not accept a workflow within ${timeoutMs / 1000} s (${last}; log ${serverLog})`,
    'UNAVAILABLE',
  );
}

export async function registerNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch {
    await connection.workflowService
      .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
      .catch((err: Error) => {
        if (!/already exists|AlreadyExists/i.test(err.message)) throw err;
      });
    throw new Error(`namespace ${namespace} registered; waiting for the server to see it`);
  }
}

/**
 * Starts and terminates a workflow nobody serves, with a TenantId, and finds it listed by it: the
 * proof that the namespace, shards, search attributes and visibility work. (The server's cache of
 * search attributes catches up with new ones within a minute; refreshing it on every read instead
 * costs every start and upsert a database read.)
 */
export async function probeWorkflow(connection: Connection, namespace: string): Promise<void> {
  const workflowId = `ados-cluster-probe-${Date.now()}`;
  const { randomUUID } = await import('node:crypto');
  await connection.workflowService.startWorkflowExecution({
    namespace,
    workflowId,
    workflowType: { name: 'ados-cluster-probe' },
    taskQueue: { name: 'ados-cluster-probe' },
    requestId: randomUUID(),
    searchAttributes: {
      indexedFields: {
        [TenantIdKey.name]: { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"ados-probe"') },
      },
    },
  });
  try {
    for (let attempt = 0; ; attempt++) {
      const { count } = await connection.workflowService.countWorkflowExecutions({
        namespace,
        query: `WorkflowId = '${workflowId}' AND ${TenantIdKey.name} = 'ados-probe'`,
      });
      if (Number(count) > 0) break;
      if (attempt === 50) throw new Error('the probe workflow is not listed by TenantId yet');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await connection.workflowService.terminateWorkflowExecution({
      namespace,
      workflowExecution: { workflowId },
      reason: 'ados cluster up: readiness probe',
    });
    await connection.workflowService
      .deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } })
      .catch(() => undefined);
  }
}
