/**
 * Cost categories, the non-LLM kinds' unit prices, and the model table the CostAgent estimates with
 * and degradation finds cheaper models in. LLM charges are priced by @pydantic/genai-prices
 * (activities/pricing.ts); this table's LLM prices are frozen for the estimates of workflow code,
 * so that a replayed decision never sees a new price.
 */

export type CostCategory = 'llm' | 'retrieval' | 'rerank' | 'evaluation' | 'storage' | 'compute' | 'learning';

export const COST_CATEGORIES: readonly CostCategory[] = [
  'llm',
  'retrieval',
  'rerank',
  'evaluation',
  'storage',
  'compute',
  'learning',
];

export interface ModelPrice {
  /** USD per 1,000 input tokens. */
  inputPer1k: number;
  /** USD per 1,000 output tokens. */
  outputPer1k: number;
  /** The model a degraded node switches to. */
  cheaperAlternative?: string;
}

/** LLM prices per model, as a run estimates with them. */
export type ModelRates = Readonly<Record<string, Pick<ModelPrice, 'inputPer1k' | 'outputPer1k'>>>;

/** The prices a run estimates with, recorded in its history (its launch, or its settings marker). */
export interface RunPrices {
  /** Where the prices come from, e.g. `@pydantic/genai-prices`. */
  source: string;
  version: string;
  models: ModelRates;
}

export const MODEL_CATALOG: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { inputPer1k: 0.0025, outputPer1k: 0.01, cheaperAlternative: 'gpt-4o-mini' },
  'gpt-4o-mini': { inputPer1k: 0.00015, outputPer1k: 0.0006 },
  'gpt-4.1': { inputPer1k: 0.002, outputPer1k: 0.008, cheaperAlternative: 'gpt-4.1-mini' },
  'gpt-4.1-mini': { inputPer1k: 0.0004, outputPer1k: 0.0016, cheaperAlternative: 'gpt-4.1-nano' },
  'gpt-4.1-nano': { inputPer1k: 0.0001, outputPer1k: 0.0004 },
  'claude-sonnet': { inputPer1k: 0.003, outputPer1k: 0.015, cheaperAlternative: 'claude-haiku' },
  'claude-haiku': { inputPer1k: 0.0008, outputPer1k: 0.004 },
};

export const DEFAULT_MODEL = 'gpt-4o-mini';

/** Flat per-operation prices for the non-LLM kinds. */
export const UNIT_PRICES = {
  /** per 1,000 documents scored by a retrieval search */
  retrievalPer1kDocs: 0.0004,
  /** per 1,000 tokens of candidates reranked */
  rerankPer1kTokens: 0.00005,
  /** per 1,000 tokens compared by an evaluation */
  evaluationPer1kTokens: 0.00002,
} as const;

export function cheaperModel(model: string): string | undefined {
  return MODEL_CATALOG[model]?.cheaperAlternative;
}

/** Costs are kept in whole micro-dollars so that sums are exact; `usd` converts for display. */
export const MICROS_PER_USD = 1_000_000;

export function toMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD);
}

export function usd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/** Micro-dollars as people read them: `$0.012345`. */
export function formatUsd(micros: number): string {
  return `$${usd(micros).toFixed(6)}`;
}

export function priceLlmTokens(
  model: string,
  inputTokens: number,
  outputTokens: number,
  rates: ModelRates = MODEL_CATALOG,
): number {
  const price = rates[model] ?? MODEL_CATALOG[model];
  if (!price)
    throw new Error(
      `model ${JSON.stringify(model)} is not in the price catalog (known: ${Object.keys(MODEL_CATALOG).join(', ')})`,
    );
  return toMicros((inputTokens / 1000) * price.inputPer1k + (outputTokens / 1000) * price.outputPer1k);
}
