import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { toMicros } from '../workflows/policy/catalog';
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

/** Micro-dollars per output token of a model (for capping output to a budget). */
export function outputMicrosPerToken(model: string): number {
  return priceLlmUsage(model, { inputTokens: 0, outputTokens: 1_000_000 }).micros / 1_000_000;
}
