import type { DagNode } from './dag';
import { DEFAULT_MODEL, MODEL_CATALOG, cheaperModel, priceLlmTokens, toMicros } from './catalog';

/** What a node will run with: its params and model, after any degradation. */
export interface NodeVariant {
  params: Record<string, unknown>;
  model?: string;
}

/** Sensible degraded params for the built-in kinds, used when a node gives no `degrade.params`. */
export const DEGRADE_DEFAULTS: Readonly<Record<string, Record<string, unknown>>> = {
  'llm.generate': { num_candidates: 1 },
  'retrieval.search': { top_k: 3 },
  rerank: { rerank: false },
};

/** Assumed prompt size of an LLM call whose real prompt is not known before it runs. */
const ASSUMED_PROMPT_TOKENS = 1200;
const DEFAULT_MAX_TOKENS = 256;

export function nodeModel(node: Pick<DagNode, 'kind' | 'params'>): string | undefined {
  if (typeof node.params.model === 'string') return node.params.model;
  return node.kind === 'llm.generate' ? DEFAULT_MODEL : undefined;
}

export function fullVariant(node: DagNode): NodeVariant {
  const model = nodeModel(node);
  return { params: node.params, ...(model ? { model } : {}) };
}

/**
 * The node as a DEGRADE plan runs it: its own `degrade.params` (or the built-in defaults for its
 * kind), reranking off, and its `degrade.model` or the catalog's cheaper alternative.
 */
export function degradedVariant(node: DagNode): NodeVariant {
  const params: Record<string, unknown> = { ...node.params, ...(node.degrade?.params ?? DEGRADE_DEFAULTS[node.kind] ?? {}) };
  if ('rerank' in params || node.kind === 'rerank') params.rerank = false;
  const current = nodeModel(node);
  const model = node.degrade?.model ?? (current ? (cheaperModel(current) ?? current) : undefined);
  if (model) params.model = model;
  return { params, ...(model ? { model } : {}) };
}

function numberParam(params: Record<string, unknown>, name: string, fallback: number): number {
  const value = params[name];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** A catalog-based estimate for a built-in kind; 0 for kinds the catalog cannot price in advance. */
export function catalogEstimateMicros(kind: string, variant: NodeVariant): number {
  switch (kind) {
    case 'llm.generate': {
      const model = variant.model && MODEL_CATALOG[variant.model] ? variant.model : DEFAULT_MODEL;
      const outputTokens = numberParam(variant.params, 'max_tokens', DEFAULT_MAX_TOKENS) * numberParam(variant.params, 'num_candidates', 1);
      return priceLlmTokens(model, ASSUMED_PROMPT_TOKENS, outputTokens);
    }
    case 'retrieval.search':
      return 20 + 2 * numberParam(variant.params, 'top_k', 5);
    case 'rerank':
      return variant.params.rerank === false ? 0 : 100;
    case 'eval.score':
      return 50;
    case 'util.sleep':
    case 'util.fail':
      // Their cost is a param, so the estimate is exact.
      return toMicros(numberParam(variant.params, 'costUsd', 0));
    default:
      return 0;
  }
}

/**
 * Expected cost of a node, in full or degraded form. A node's own `estimatedCostUsd` describes its
 * full form; its degraded form scales that by how much cheaper the catalog says the degraded form is.
 */
export function estimateNodeMicros(node: DagNode, degraded: boolean): number {
  const full = fullVariant(node);
  const given = node.estimatedCostUsd === undefined ? undefined : toMicros(node.estimatedCostUsd);
  if (!degraded) return given ?? catalogEstimateMicros(node.kind, full);
  const variantMicros = catalogEstimateMicros(node.kind, degradedVariant(node));
  if (given === undefined) return variantMicros;
  const fullMicros = catalogEstimateMicros(node.kind, full);
  return fullMicros > 0 ? Math.round((given * variantMicros) / fullMicros) : given;
}
