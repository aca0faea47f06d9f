/** What workflows report to their worker's metrics. */
import { proxySinks, type Sinks } from '@temporalio/workflow';

/**
 * What workflows report to their worker's Prometheus metrics. A sink, because workflow code may
 * not do I/O: the worker receives these calls outside the sandbox, and not again on replay.
 */
export interface MetricsSinks extends Sinks {
  metrics: {
    runEnded(tenantId: string, status: string): void;
    decision(action: string): void;
    admission(outcome: string, waitMs: number): void;
    spent(tenantId: string, category: string, usd: number): void;
    /** An admitted run's nodes not yet ended, by kind, on its node queue, and how many are scheduled now (none: the run is done). */
    work(queue: string, remaining: Record<string, number>, scheduled: number): void;
    /** A node ran for `ms`, as its node worker measured it. */
    nodeRan(kind: string, ms: number): void;
  };
}

export const { metrics } = proxySinks<MetricsSinks>();
