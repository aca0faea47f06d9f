/** Utility node kinds for tests and benchmarks: util.sleep, util.spin, util.fail. */
import { ApplicationFailure } from '@temporalio/activity';
import { toMicros } from '../../workflows/domain/pricing/catalog';
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

/**
 * Keeps a CPU busy for `ms` (in 10-ms slices, stopping at the first after a cancel), then reports
 * `costUsd` in category compute: a CPU-bound node for load tests, beside `util.sleep`'s waiting one.
 */
export const utilSpin: NodeKind = {
  kind: 'util.spin',
  category: 'compute',
  async execute(task, ctx) {
    const ms = numberParam(task, 'ms', 0, { min: 0, max: 600_000 });
    const costUsd = numberParam(task, 'costUsd', 0, { min: 0, max: 1e6 });
    const cpuStart = process.cpuUsage();
    const cpuMs = () => {
      const { user, system } = process.cpuUsage(cpuStart);
      return (user + system) / 1000;
    };
    const began = performance.now();
    // Slices of 10 ms, yielding between them so other activities get the event loop.
    while (performance.now() - began < ms) {
      const sliceEnd = Math.min(performance.now() + 10, began + ms);
      while (performance.now() < sliceEnd);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { output: { spunMs: ms, processCpuMs: Math.round(cpuMs()) }, costMicros: toMicros(costUsd) };
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
