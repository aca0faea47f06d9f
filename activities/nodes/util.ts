import { ApplicationFailure } from '@temporalio/activity';
import { toMicros } from '../../workflows/policy/catalog';
import { numberParam, type NodeKind } from './kind';

/** Waits `ms`, then reports `costUsd` in category compute: for tests and load. */
export const utilSleep: NodeKind = {
  kind: 'util.sleep',
  category: 'compute',
  async execute(task, ctx) {
    const ms = numberParam(task, 'ms', 0, { min: 0, max: 86_400_000 });
    const costUsd = numberParam(task, 'costUsd', 0, { min: 0, max: 1e6 });
    await ctx.sleep(ms);
    return { output: { sleptMs: ms }, costMicros: toMicros(costUsd) };
  },
};

/** Fails its first `times` attempts with a retryable error, or every attempt non-retryably with `always`. */
export const utilFail: NodeKind = {
  kind: 'util.fail',
  category: 'compute',
  async execute(task, ctx) {
    if (task.params.always === true) {
      throw ApplicationFailure.nonRetryable(`node ${task.nodeId} always fails`, 'NodeAlwaysFails');
    }
    const times = numberParam(task, 'times', 0, { min: 0, max: 1000 });
    if (ctx.attempt <= times) {
      throw ApplicationFailure.retryable(
        `node ${task.nodeId} fails attempt ${ctx.attempt} of its first ${times}`,
        'NodeFailedAttempt',
      );
    }
    const costUsd = numberParam(task, 'costUsd', 0, { min: 0, max: 1e6 });
    return { output: { succeededOnAttempt: ctx.attempt }, costMicros: toMicros(costUsd) };
  },
};
