/** Node estimates: a node's model and cost, full or degraded. */
import type { DagNode } from '../run/dag';
import { DEFAULT_MAX_TOKENS } from './token-model';
import { DEFAULT_MODEL, cheaperModel, modelRate, priceLlmTokens, toMicros, type RunPrices } from '../pricing/catalog';

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

export function nodeModel(node: Pick<DagNode, 'kind' | 'params'>): string | undefined {
  if (typeof node.params.model === 'string') return node.params.model;
  return node.kind === 'llm.generate' ? DEFAULT_MODEL : undefined;
}

/**
 * The node as planned at full quality; `preferredModel` is a cheaper model the tenant's learning
 * proved good enough for this node's kind and model.
 */
export function fullVariant(node: DagNode, preferredModel?: string): NodeVariant {
  const model = preferredModel ?? nodeModel(node);
  return {
    params: preferredModel ? { ...node.params, model: preferredModel } : node.params,
    ...(model ? { model } : {}),
  };
}

/**
 * The node as a DEGRADE plan runs it: its own `degrade.params` (or the built-in defaults for its
 * kind), reranking off, and its `degrade.model` or the next step of its model's cheaper-model chain.
 */
export function degradedVariant(node: DagNode, preferredModel?: string, prices?: RunPrices): NodeVariant {
  const params: Record<string, unknown> = {
    ...node.params,
    ...(node.degrade?.params ?? DEGRADE_DEFAULTS[node.kind] ?? {}),
  };
  if ('rerank' in params || node.kind === 'rerank') params.rerank = false;
  const current = preferredModel ?? nodeModel(node);
  const model = node.degrade?.model ?? (current ? (cheaperModel(current, prices) ?? current) : undefined);
  if (model) params.model = model;
  return { params, ...(model ? { model } : {}) };
}

function numberParam(params: Record<string, unknown>, name: string, fallback: number): number {
  const value = params[name];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** A catalog-based estimate for a built-in kind; 0 for kinds the catalog cannot price in advance. */
export function catalogEstimateMicros(kind: string, variant: NodeVariant, prices?: RunPrices): number {
  switch (kind) {
    case 'llm.generate': {
      const model = variant.model !== undefined && modelRate(variant.model, prices) ? variant.model : DEFAULT_MODEL;
      const outputTokens =
        numberParam(variant.params, 'max_tokens', DEFAULT_MAX_TOKENS) *
        numberParam(variant.params, 'num_candidates', 1);
      return priceLlmTokens(model, ASSUMED_PROMPT_TOKENS, outputTokens, prices);
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
export function estimateNodeMicros(node: DagNode, degraded: boolean, prices?: RunPrices): number {
  const variant = degraded ? degradedVariant(node, undefined, prices) : fullVariant(node);
  return hintedEstimateMicros(node, variant, prices) ?? catalogEstimateMicros(node.kind, variant, prices);
}

/**
 * The node's own `estimatedCostUsd`, scaled to the variant that will run by how much cheaper the
 * catalog says that variant is; undefined when the node gives no hint.
 */
export function hintedEstimateMicros(node: DagNode, variant: NodeVariant, prices?: RunPrices): number | undefined {
  if (node.estimatedCostUsd === undefined) return undefined;
  const given = toMicros(node.estimatedCostUsd);
  const fullMicros = catalogEstimateMicros(node.kind, fullVariant(node), prices);
  return fullMicros > 0 ? Math.round((given * catalogEstimateMicros(node.kind, variant, prices)) / fullMicros) : given;
}
