import { DEFAULT_NODE_PARTITIONS } from '../workflows/policy/routing';
import type { ControlActivities, DeploymentSettings } from '../workflows/node-task';
import { nodeKinds } from './nodes/registry';

export function nodePartitionsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ADOS_NODE_PARTITIONS;
  if (raw === undefined || raw === '') return DEFAULT_NODE_PARTITIONS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`ADOS_NODE_PARTITIONS must be an integer from 1 to 1024, got ${JSON.stringify(raw)}`);
  return n;
}

/** Activities of the control worker: local ones the workflows call for facts only a process knows. */
export function createControlActivities(): ControlActivities {
  return {
    async deploymentSettings(): Promise<DeploymentSettings> {
      return { nodePartitions: nodePartitionsFromEnv(), nodeKinds: nodeKinds().map((k) => k.kind).sort() };
    },
  };
}
