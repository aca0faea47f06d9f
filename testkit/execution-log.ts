/**
 * The execution log: a node kind, `test.logged`, that appends a line to a file outside Temporal for
 * every execution, before it returns, so that a test counts what really ran (a node run again after
 * a failover is two lines) and compares it with what the tenant was charged.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { numberParam, type NodeKind } from '../activities/nodes/kind';
import { toMicros } from '../workflows/domain/pricing/catalog';

/** The file each worker process appends to, from its environment. */
export const EXECUTION_LOG_VAR = 'ADOS_TEST_EXECUTION_LOG';

export interface LoggedExecution {
  tenantId: string;
  runId: string;
  nodeId: string;
  attempt: number;
  costMicros: number;
  /** Where it ran: the worker's region (ADOS_TEST_REGION) and process. */
  region: string;
  pid: number;
  at: number;
}

/** Sleeps `ms`, then logs the execution and reports `costUsd`, as util.sleep does. */
export const loggedNode: NodeKind = {
  kind: 'test.logged',
  category: 'compute',
  async execute(task, ctx) {
    const ms = numberParam(task, 'ms', 0, { min: 0, max: 600_000 });
    const costMicros = toMicros(numberParam(task, 'costUsd', 0, { min: 0, max: 1e6 }));
    await ctx.sleep(ms);
    const file = process.env[EXECUTION_LOG_VAR];
    if (!file) throw new Error(`${EXECUTION_LOG_VAR} is not set: test.logged has nowhere to log`);
    const line: LoggedExecution = {
      tenantId: task.tenantId,
      runId: task.runId,
      nodeId: task.nodeId,
      attempt: ctx.attempt,
      costMicros,
      region: process.env.ADOS_TEST_REGION ?? '',
      pid: process.pid,
      at: Date.now(),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    return { output: { sleptMs: ms }, costMicros };
  },
};

/** Every execution logged so far. */
export function readExecutions(file: string): LoggedExecution[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LoggedExecution);
}
