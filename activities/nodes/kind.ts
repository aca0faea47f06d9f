/** What a node kind is: its execution, its context (upstream outputs, cancellation), and shared prompt helpers. */
import type { ChargePricing } from '../../workflows/domain/tenant/entity-payloads';
import type { CostCategory } from '../../workflows/domain/pricing/catalog';
import type { NodeTask } from '../../workflows/ports/activities';

/** What a node executor returns: its output for dependents, and the usage it is charged for. */
export interface NodeExecution {
  output: unknown;
  costMicros: number;
  model?: string;
  /** For an LLM charge: provider, usage and price source (activities/pricing.ts). */
  pricing?: ChargePricing;
}

export interface NodeContext {
  /** Aborted when Temporal cancels the activity (the run was cancelled or a critical node failed). */
  signal: AbortSignal;
  attempt: number;
  sleep(ms: number): Promise<void>;
}

/** A node kind: its name in DAGs, the cost category it charges, and its executor. */
export interface NodeKind {
  kind: string;
  category: CostCategory;
  execute(task: NodeTask, ctx: NodeContext): Promise<NodeExecution>;
}

/** The prompt an llm.generate node sends: the instruction, the retrieved passages, the question. */
export function ragPrompt(question: string, passages: readonly string[]): string {
  return [
    'Answer the question using only the passages.',
    ...passages.map((p) => `[passage] ${p}`),
    `Question: ${question}`,
  ].join('\n');
}

/** A node's upstream passages, from any retrieval dependency. */
export function upstreamPassages(task: NodeTask): Array<{ id: string; text: string; score: number }> {
  const passages: Array<{ id: string; text: string; score: number }> = [];
  for (const output of Object.values(task.upstream)) {
    const list = (output as { passages?: unknown } | null)?.passages;
    if (Array.isArray(list)) passages.push(...(list as typeof passages));
  }
  return passages;
}

/** A node's upstream answer candidates, from any generation or rerank dependency. */
export function upstreamCandidates(task: NodeTask): string[] {
  const candidates: string[] = [];
  for (const output of Object.values(task.upstream)) {
    const o = output as { candidates?: unknown; ranked?: unknown } | null;
    const list = Array.isArray(o?.ranked) ? o.ranked : o?.candidates;
    if (Array.isArray(list)) candidates.push(...list.filter((c): c is string => typeof c === 'string'));
  }
  return candidates;
}

export function stringParam(task: NodeTask, name: string, fallback: string): string {
  const value = task.params[name];
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

export function numberParam(
  task: NodeTask,
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  const value = task.params[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new NodeInputError(
      `param ${name} of node ${task.nodeId} must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Bad params: retrying cannot help, so the activity fails non-retryably. */
export class NodeInputError extends Error {
  override name = 'NodeInputError';
}
