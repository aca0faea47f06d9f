/** A worker's trace of node executions, appended to the run's trace file. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { artifactsRoot, json, writeFileAtomic } from '../activities/export/atomic';
import type { NodeTask } from '../workflows/ports/activities';

interface KindStats {
  tasks: number;
  failures: number;
  busyMs: number;
  durations: number[];
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Durations kept per kind for percentiles; older ones are dropped. */
const DURATIONS_KEPT = 5000;
/** Trace lines wait at most this long before they are appended to the file. */
const TRACE_FLUSH_MS = 250;

/**
 * This worker process's execution record: one trace line per activity start and end, and a
 * summary of tasks, failures, busy time and p50/p95 per kind, refreshed periodically and at stop.
 */
export class ExecutionTrace {
  readonly workerId: string;
  private readonly stats = new Map<string, KindStats>();
  private timer?: NodeJS.Timeout;
  private readonly pending: string[] = [];
  private flushTimer?: NodeJS.Timeout;
  private readonly started = new Date().toISOString();

  constructor(
    identity = `${hostname()}-${process.pid}`,
    private readonly root = artifactsRoot(),
  ) {
    this.workerId = identity.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 100);
  }

  private get dir(): string {
    return join(this.root, 'execution');
  }

  /**
   * Lines are appended a batch at a time (within 250 ms, and at stop): a file append per activity
   * start and end cost a busy worker 1.5 ms of its main thread per five-node run.
   */
  private line(record: Record<string, unknown>): void {
    this.pending.push(`${JSON.stringify(record)}\n`);
    this.flushTimer ??= setTimeout(() => this.flush(), TRACE_FLUSH_MS).unref();
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(join(this.dir, `distributed_trace_${this.workerId}.jsonl`), this.pending.splice(0).join(''));
  }

  /** The activity interceptor that records every activity this worker runs. */
  interceptor(): ActivityInterceptorsFactory {
    return (ctx: ActivityContext) => ({
      inbound: {
        execute: async (input, next) => {
          const info = ctx.info;
          const task = input.args[0] as Partial<NodeTask> | undefined;
          const base = {
            workerId: this.workerId,
            tenantId: task?.tenantId,
            runId: task?.runId,
            nodeId: task?.nodeId,
            kind: info.activityType,
            attempt: info.attempt,
            queue: info.taskQueue,
            workflowId: info.workflowExecution?.workflowId,
          };
          const startedAt = Date.now();
          const queueMs = info.currentAttemptScheduledTimestampMs
            ? startedAt - info.currentAttemptScheduledTimestampMs
            : undefined;
          this.line({ event: 'start', at: new Date(startedAt).toISOString(), ...base, queueMs });
          let outcome = 'completed';
          try {
            return await next(input);
          } catch (err) {
            outcome = (err as Error)?.name === 'CancelledFailure' ? 'cancelled' : 'failed';
            throw err;
          } finally {
            const durationMs = Date.now() - startedAt;
            this.line({ event: 'end', at: new Date().toISOString(), ...base, outcome, durationMs });
            this.record(info.activityType, durationMs, outcome === 'failed');
          }
        },
      },
    });
  }

  private record(kind: string, durationMs: number, failed: boolean): void {
    const s = this.stats.get(kind) ?? { tasks: 0, failures: 0, busyMs: 0, durations: [] };
    s.tasks++;
    if (failed) s.failures++;
    s.busyMs += durationMs;
    s.durations.push(durationMs);
    if (s.durations.length > DURATIONS_KEPT) s.durations.splice(0, s.durations.length - DURATIONS_KEPT);
    this.stats.set(kind, s);
  }

  summary(): Record<string, unknown> {
    const kinds = Object.fromEntries(
      [...this.stats].map(([kind, s]) => {
        const sorted = [...s.durations].sort((a, b) => a - b);
        return [
          kind,
          {
            tasks: s.tasks,
            failures: s.failures,
            busyMs: s.busyMs,
            p50Ms: percentile(sorted, 50),
            p95Ms: percentile(sorted, 95),
          },
        ];
      }),
    );
    const all = [...this.stats.values()];
    return {
      workerId: this.workerId,
      startedAt: this.started,
      updatedAt: new Date().toISOString(),
      tasks: all.reduce((n, s) => n + s.tasks, 0),
      failures: all.reduce((n, s) => n + s.failures, 0),
      busyMs: all.reduce((n, s) => n + s.busyMs, 0),
      kinds,
    };
  }

  writeSummary(): void {
    writeFileAtomic(join(this.dir, `worker_summary_${this.workerId}.json`), json(this.summary()));
  }

  /** Refreshes the summary every `intervalMs` until `stop()`, which writes it one last time. */
  start(intervalMs = 10_000): this {
    this.timer = setInterval(() => this.writeSummary(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
    this.writeSummary();
  }
}
