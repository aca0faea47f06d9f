/** The bare DAG workflow: the benchmark's ungoverned baseline. */
import { proxyActivities } from '@temporalio/workflow';
import type { DagNode } from './domain/run/dag';
import type { NodeActivity } from './ports/activities';

export interface BareDagInput {
  runId: string;
  tenantId: string;
  taskQueue: string;
  maxParallelism: number;
  nodes: Array<Pick<DagNode, 'id' | 'kind' | 'params'> & { deps?: string[] }>;
}

/**
 * The benchmark's baseline: the same DAG, the same activities on the same queue with the same
 * timeouts and retries, in dependency order at the same parallelism — and nothing else: no
 * validation, admission, budget, CostAgent, search attributes or export. `npm run bench` runs it
 * beside `deliveryRun` to measure what governance costs.
 */
export async function bareDag(input: BareDagInput): Promise<{ nodes: number; costMicros: number }> {
  const done = new Set<string>();
  const started = new Set<string>();
  const outputs: Record<string, unknown> = {};
  let costMicros = 0;
  const inFlight = new Map<string, Promise<void>>();
  const activity = (kind: string) =>
    proxyActivities<Record<string, NodeActivity>>({
      taskQueue: input.taskQueue,
      startToCloseTimeout: '300s',
      heartbeatTimeout: '10s',
      retry: { maximumAttempts: 3 },
    })[kind]!;
  for (;;) {
    for (const node of input.nodes) {
      if (inFlight.size >= input.maxParallelism) break;
      if (started.has(node.id) || !(node.deps ?? []).every((d) => done.has(d))) continue;
      started.add(node.id);
      const upstream = Object.fromEntries((node.deps ?? []).map((d) => [d, outputs[d]]));
      inFlight.set(
        node.id,
        activity(node.kind)({
          runId: input.runId,
          tenantId: input.tenantId,
          nodeId: node.id,
          kind: node.kind,
          params: node.params ?? {},
          upstream,
        }).then((outcome) => {
          outputs[node.id] = outcome.output;
          costMicros += outcome.costMicros;
          done.add(node.id);
          inFlight.delete(node.id);
        }),
      );
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
  }
  return { nodes: done.size, costMicros };
}
