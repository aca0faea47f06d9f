import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { MODEL_CATALOG, toMicros, type RunPrices } from '../workflows/policy/catalog';
import type { ChargePricing } from '../workflows/messages/tenant-payloads';

/**
 * LLM prices from a maintained source: `@pydantic/genai-prices`, pinned, with its bundled snapshot
 * (prices are never fetched at run time). Every charge records the provider, the priced model, the
 * token usage and the source's name and version.
 */
export const PRICE_SOURCE = {
  name: '@pydantic/genai-prices',
  version: (
    JSON.parse(
      readFileSync(join(dirname(require.resolve('@pydantic/genai-prices')), '..', 'package.json'), 'utf8'),
    ) as {
      version: string;
    }
  ).version,
};

/** ADOS's short model names that are not model ids in the price data. */
const MODEL_IDS: Record<string, string> = {
  'claude-sonnet': 'claude-sonnet-4-0',
  'claude-haiku': 'claude-3-5-haiku-latest',
};

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens the provider served from its prompt cache (part of inputTokens), when it says so. */
  cachedInputTokens?: number;
}

export class UnknownModelPrice extends Error {
  override name = 'UnknownModelPrice';
}

/** The price of a model's token usage, in micro-dollars, with what priced it. */
export function priceLlmUsage(model: string, usage: TokenUsage): { micros: number; pricing: ChargePricing } {
  const id = MODEL_IDS[model] ?? model;
  const price = calcPrice(
    {
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      ...(usage.cachedInputTokens ? { cache_read_tokens: usage.cachedInputTokens } : {}),
    },
    id,
  );
  if (!price)
    throw new UnknownModelPrice(
      `model ${model} has no price in ${PRICE_SOURCE.name} ${PRICE_SOURCE.version}; use a model it knows (e.g. gpt-4o, claude-sonnet-4-0, gemini-2.0-flash)`,
    );
  return {
    micros: toMicros(price.total_price),
    pricing: {
      provider: price.provider.id,
      priceModel: price.model.id,
      source: PRICE_SOURCE.name,
      sourceVersion: PRICE_SOURCE.version,
      ...usage,
    },
  };
}

type Rates = { inputPer1k: number; outputPer1k: number };
/** The bundled snapshot never changes while the process runs, so each model's rates are looked up once. */
const ratesCache = new Map<string, Rates | undefined>();

/** The price data's rates per 1,000 tokens for a model, or undefined if it does not know the model. */
function ratesOf(model: string): Rates | undefined {
  if (ratesCache.has(model)) return ratesCache.get(model);
  const id = MODEL_IDS[model] ?? model;
  const input = calcPrice({ input_tokens: 1_000_000, output_tokens: 0 }, id);
  const output = calcPrice({ input_tokens: 0, output_tokens: 1_000_000 }, id);
  const rates =
    input && output ? { inputPer1k: input.total_price / 1000, outputPer1k: output.total_price / 1000 } : undefined;
  ratesCache.set(model, rates);
  return rates;
}

/**
 * The prices a run estimates with, taken from the price source once when it starts and recorded in
 * its history: the models of the estimate table and any the run names.
 */
export function runPrices(extraModels: readonly string[] = []): RunPrices {
  const models: Record<string, Rates> = {};
  for (const model of new Set([...Object.keys(MODEL_CATALOG), ...extraModels])) {
    const rates = ratesOf(model);
    if (rates) models[model] = rates;
  }
  return { source: PRICE_SOURCE.name, version: PRICE_SOURCE.version, models };
}

/** Micro-dollars per output token of a model (for capping output to a budget). */
export function outputMicrosPerToken(model: string): number {
  return priceLlmUsage(model, { inputTokens: 0, outputTokens: 1_000_000 }).micros / 1_000_000;
}
