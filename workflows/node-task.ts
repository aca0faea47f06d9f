import type { NodeOutcome } from './policy/run-state';

/** What a node activity receives: the node, its resolved model, and its dependencies' outputs. */
export interface NodeTask {
  tenantId: string;
  runId: string;
  nodeId: string;
  kind: string;
  params: Record<string, unknown>;
  model?: string;
  upstream: Record<string, unknown>;
}

/** Every node kind is an activity of this shape, registered under the kind's name. */
export type NodeActivity = (task: NodeTask) => Promise<NodeOutcome>;

/** Deployment facts only a worker process knows; read once per run through a local activity. */
export interface DeploymentSettings {
  nodePartitions: number;
  nodeKinds: string[];
}

export interface ControlActivities {
  deploymentSettings(): Promise<DeploymentSettings>;
}

/** Activities of the control worker that write artifacts. */
export interface ExportActivities {
  exportRunArtifacts(input: { tenantId: string; runId: string }): Promise<{ files: string[] }>;
  exportPendingArtifacts(): Promise<{ exported: number; queues: number }>;
}
