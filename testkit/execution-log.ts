/**
 * The execution log: a node kind, `test.logged`, that appends lines to a file outside Temporal for
 * every execution, one when it starts and one when it ends (before it returns), so that a test
 * counts what really ran (a node run again after a failover starts twice; one that ran to the end
 * twice cost twice) and compares it with what the tenant was charged.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { numberParam, type NodeKind } from '../activities/nodes/kind';
import { toMicros } from '../workflows/domain/pricing/catalog';

/** The file each worker process appends to, from its environment. */
export const EXECUTION_LOG_VAR = 'ADOS_TEST_EXECUTION_LOG';

export interface LoggedExecution {
  /** `start` when it began; `end` when it finished and its cost was incurred. */
  phase: 'start' | 'end';
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
    const file = process.env[EXECUTION_LOG_VAR];
    if (!file) throw new Error(`${EXECUTION_LOG_VAR} is not set: test.logged has nowhere to log`);
    const line = (phase: LoggedExecution['phase']): LoggedExecution => ({
      phase,
      tenantId: task.tenantId,
      runId: task.runId,
      nodeId: task.nodeId,
      attempt: ctx.attempt,
      costMicros,
      region: process.env.ADOS_TEST_REGION ?? '',
      pid: process.pid,
      at: Date.now(),
    });
    appendFileSync(file, `${JSON.stringify(line('start'))}\n`);
    await ctx.sleep(ms);
    appendFileSync(file, `${JSON.stringify(line('end'))}\n`);
    return { output: { sleptMs: ms }, costMicros };
  },
};

/** Every execution logged so far, started or ended. */
export function readExecutions(file: string): LoggedExecution[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LoggedExecution);
}

/** The executions that ran to their end: what was really spent. */
export function endedExecutions(file: string): LoggedExecution[] {
  return readExecutions(file).filter((e) => e.phase === 'end');
}

/** How many executions began beyond the first of their node: the nodes run again. */
export function executionsAgain(executions: LoggedExecution[]): number {
  const started = executions.filter((e) => e.phase === 'start');
  return started.length - new Set(started.map((e) => `${e.tenantId}/${e.runId}/${e.nodeId}`)).size;
}
