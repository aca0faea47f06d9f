/**
 * Which task queue runs a tenant's nodes. A stable hash keeps a tenant on one partition across
 * processes and restarts, so the partition's workers keep its caches warm and its backlog visible.
 */
export const DEFAULT_NODE_PARTITIONS = 4;

/** 32-bit FNV-1a: tiny, stable across platforms and Node versions, good spread for short ids. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function nodePartition(tenantId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return stableHash(tenantId) % partitions;
}

export function partitionTaskQueue(partition: number): string {
  return `ados-nodes-${partition}`;
}

export function dedicatedTaskQueue(tenantId: string): string {
  return `ados-tenant-${tenantId}`;
}

export interface NodeRouting {
  tenantId: string;
  /** @default 4 */
  partitions?: number;
  /** @default false */
  dedicatedQueue?: boolean;
}

export function nodeTaskQueue({
  tenantId,
  partitions = DEFAULT_NODE_PARTITIONS,
  dedicatedQueue = false,
}: NodeRouting): string {
  return dedicatedQueue ? dedicatedTaskQueue(tenantId) : partitionTaskQueue(nodePartition(tenantId, partitions));
}

/**
 * The node kinds every ADOS worker registers. A starter whose DAG uses only these can tell the run
 * its kinds are known without asking a worker; other kinds are checked by the run against its
 * worker's registry.
 */
export const BUILTIN_NODE_KINDS: readonly string[] = [
  'retrieval.search',
  'llm.generate',
  'rerank',
  'eval.score',
  'util.sleep',
  'util.spin',
  'util.fail',
];
