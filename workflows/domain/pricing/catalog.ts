/** The price catalog: cost categories, unit prices, and a run's LLM prices. */
import { FROZEN_MODEL_PRICES } from './frozen-prices';

/**
 * Cost categories, the non-LLM kinds' unit prices, and the shape of the LLM prices a run carries in
 * its history. LLM prices and cheaper-model chains come from @pydantic/genai-prices and the
 * deployment's settings (activities/pricing.ts); workflow code estimates only with the prices
 * recorded in the run, so that a replayed decision never sees a new price.
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

/** A model's price per 1,000 tokens as a run estimates with it, and the model it degrades to. */
export interface ModelRate {
  /** USD per 1,000 input tokens. */
  inputPer1k: number;
  /** USD per 1,000 output tokens. */
  outputPer1k: number;
  /** USD per 1,000 input tokens served from the provider's prompt cache, where the price data has it. */
  cachedInputPer1k?: number;
  /** The model a degraded node switches to (its cheaper-model chain's next step). */
  cheaper?: string;
}

/** LLM prices per model, as a run estimates with them. */
export type ModelRates = Readonly<Record<string, ModelRate>>;

/** A tenant's negotiated rates for one model, in USD per million tokens (as providers quote them). */
export interface NegotiatedRate {
  inputPerMtok: number;
  outputPerMtok: number;
  cachedInputPerMtok?: number;
}

/**
 * The prices a run estimates with, recorded in its history (its launch, or its settings marker):
 * the price source's rates for the models the run may use, with the deployment's cheaper-model
 * chains. `chains` is set in runs recorded since chains came with the prices; runs without it
 * follow the frozen chains.
 */
export interface RunPrices {
  /** Where the prices come from, e.g. `@pydantic/genai-prices`. */
  source: string;
  version: string;
  models: ModelRates;
  chains?: true;
}

/** The model of an `llm.generate` node that names none. */
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

/**
 * The next step down a model's cheaper-model chain: from the run's recorded prices, or, for runs
 * recorded before chains were, the frozen table.
 */
export function cheaperModel(model: string, prices?: RunPrices): string | undefined {
  return prices?.chains ? prices.models[model]?.cheaper : FROZEN_MODEL_PRICES[model]?.cheaper;
}

/**
 * A run's prices with a tenant's negotiated rates over the source's (chains unchanged). A run
 * recorded before prices were carried keeps the frozen table for the models not negotiated.
 */
export function withNegotiatedRates(
  prices: RunPrices | undefined,
  rates: Readonly<Record<string, NegotiatedRate>>,
): RunPrices {
  const models: Record<string, ModelRate> = { ...prices?.models };
  for (const [model, rate] of Object.entries(rates)) {
    const cheaper = cheaperModel(model, prices);
    models[model] = {
      inputPer1k: rate.inputPerMtok / 1000,
      outputPer1k: rate.outputPerMtok / 1000,
      ...(rate.cachedInputPerMtok !== undefined ? { cachedInputPer1k: rate.cachedInputPerMtok / 1000 } : {}),
      ...(cheaper ? { cheaper } : {}),
    };
  }
  return {
    source: prices?.source ?? 'frozen',
    version: prices?.version ?? '0',
    models,
    ...(prices?.chains ? { chains: true } : {}),
  };
}

/** A model's rates at a run's prices (the frozen table for models its prices do not name). */
export function modelRate(model: string, prices?: RunPrices): ModelRate | undefined {
  return prices?.models[model] ?? FROZEN_MODEL_PRICES[model];
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

export function priceLlmTokens(model: string, inputTokens: number, outputTokens: number, prices?: RunPrices): number {
  const price = modelRate(model, prices);
  if (!price) throw new Error(`model ${JSON.stringify(model)} has no price in this run's prices`);
  return toMicros((inputTokens / 1000) * price.inputPer1k + (outputTokens / 1000) * price.outputPer1k);
}
