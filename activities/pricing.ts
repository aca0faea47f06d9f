/** LLM prices from @pydantic/genai-prices, with negotiated rates and cheaper-model chains. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calcPrice, findProvider, type PriceCalculation } from '@pydantic/genai-prices';
import { loadConfig } from '../infra/config';
import { LOCAL_MODEL } from '../infra/llm/local-model';
import {
  DEFAULT_MODEL,
  toMicros,
  type ModelRate,
  type NegotiatedRate,
  type RunPrices,
} from '../workflows/domain/pricing/catalog';
import type { ChargePricing } from '../workflows/domain/tenant/entity-payloads';

/**
 * LLM prices from a maintained source: `@pydantic/genai-prices`, pinned, with its bundled snapshot
 * (prices are never fetched at run time). Every charge records the provider, the priced model, the
 * token usage and the source's name and version; a tenant's negotiated rate, when it has one.
 *
 * A model is named as the price data knows it (`gpt-4o`, `claude-sonnet-4-0`), as
 * `provider:model` for models only a given provider prices (`openrouter:qwen/qwen-plus`), or by
 * one of ADOS's short names below.
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

/** Where the local model's price comes from: the deployment's setting, not the price data. */
export const LOCAL_RATE_SOURCE = 'ADOS_LOCAL_LLM_RATE';

/** ADOS's short model names, and the model (and provider) of the price data each stands for. */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  'claude-sonnet': 'claude-sonnet-4-0',
  'claude-haiku': 'claude-3-5-haiku-latest',
  'qwen-max': 'openrouter:qwen/qwen-max',
  'qwen-plus': 'openrouter:qwen/qwen-plus',
  'qwen-fast': 'openrouter:qwen/qwen-turbo',
};

/**
 * Cheaper-model chains ADOS keeps where the price data's names do not show the family (Anthropic
 * puts the tier in the middle). Every other model's chain is derived from the price data (see
 * derivedCheaperModel); ADOS_CHEAPER_MODELS overrides both.
 */
export const DEFAULT_CHAINS: Readonly<Record<string, string>> = {
  'claude-sonnet': 'claude-haiku',
  'claude-sonnet-4-0': 'claude-3-5-haiku-latest',
  'claude-sonnet-4-5': 'claude-haiku-4-5',
  'claude-opus-4-1': 'claude-sonnet-4-5',
};

/** Size words at the end of a model id that name a tier of one family (`gpt-4.1-mini`, `gemini-2.5-flash-lite`). */
const TIER_WORDS = new Set([
  'mini',
  'nano',
  'lite',
  'flash',
  'turbo',
  'plus',
  'max',
  'pro',
  'small',
  'medium',
  'large',
  'fast',
]);

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens the provider served from its prompt cache (part of inputTokens), when it says so. */
  cachedInputTokens?: number;
}

export class UnknownModelPrice extends Error {
  override name = 'UnknownModelPrice';
}

/** The price data's model id and, for `provider:model` names, the provider. */
function resolve(model: string): { id: string; providerId?: string } {
  const name = MODEL_ALIASES[model] ?? model;
  const colon = name.indexOf(':');
  if (colon > 0 && !name.slice(0, colon).includes('/') && findProvider({ providerId: name.slice(0, colon) }))
    return { id: name.slice(colon + 1), providerId: name.slice(0, colon) };
  return { id: name };
}

function calc(model: string, usage: Record<string, number>): PriceCalculation | null {
  const { id, providerId } = resolve(model);
  return calcPrice(usage, id, providerId ? { providerId } : undefined);
}

function unknownModel(model: string): UnknownModelPrice {
  return new UnknownModelPrice(
    `model ${model} has no price in ${PRICE_SOURCE.name} ${PRICE_SOURCE.version}; use a model it knows (e.g. gpt-4o, claude-sonnet-4-0, gemini-2.0-flash, openrouter:qwen/qwen-plus) or give the tenant a negotiated rate for it`,
  );
}

/**
 * The price of a model's token usage, in micro-dollars, with what priced it: the tenant's
 * negotiated rate when the node carries one, else the price data.
 */
export function priceLlmUsage(
  model: string,
  usage: TokenUsage,
  negotiated?: NegotiatedRate,
): { micros: number; pricing: ChargePricing } {
  if (model === LOCAL_MODEL) {
    const rate = negotiated ?? loadConfig().ADOS_LOCAL_LLM_RATE;
    return {
      micros: negotiatedMicros(rate, usage),
      pricing: {
        provider: negotiated ? 'negotiated' : 'local',
        priceModel: LOCAL_MODEL,
        source: LOCAL_RATE_SOURCE,
        sourceVersion: `${rate.inputPerMtok},${rate.outputPerMtok}`,
        ...usage,
        ...(negotiated ? { negotiated } : {}),
      },
    };
  }
  const listed = calc(model, {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    ...(usage.cachedInputTokens ? { cache_read_tokens: usage.cachedInputTokens } : {}),
  });
  if (!listed && !negotiated) throw unknownModel(model);
  const pricing: ChargePricing = {
    provider: listed?.provider.id ?? 'negotiated',
    priceModel: listed?.model.id ?? model,
    source: PRICE_SOURCE.name,
    sourceVersion: PRICE_SOURCE.version,
    ...usage,
    ...(negotiated ? { negotiated } : {}),
  };
  return { micros: negotiated ? negotiatedMicros(negotiated, usage) : toMicros(listed!.total_price), pricing };
}

/** Usage at a negotiated rate; cached input at the input rate unless the rate names one. */
function negotiatedMicros(rate: NegotiatedRate, usage: TokenUsage): number {
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const usd =
    ((usage.inputTokens - cached) * rate.inputPerMtok +
      cached * (rate.cachedInputPerMtok ?? rate.inputPerMtok) +
      usage.outputTokens * rate.outputPerMtok) /
    1_000_000;
  return toMicros(usd);
}

type Listed = { rate: Omit<ModelRate, 'cheaper'>; provider: string; modelId: string };
/** The bundled snapshot never changes while the process runs, so each model is looked up once. */
const listedCache = new Map<string, Listed | undefined>();

/** The price data's rates per 1,000 tokens for a model, or undefined if it does not know the model. */
function listed(model: string): Listed | undefined {
  if (listedCache.has(model)) return listedCache.get(model);
  if (model === LOCAL_MODEL) {
    const rate = loadConfig().ADOS_LOCAL_LLM_RATE;
    const local = {
      rate: { inputPer1k: rate.inputPerMtok / 1000, outputPer1k: rate.outputPerMtok / 1000 },
      provider: 'local',
      modelId: LOCAL_MODEL,
    };
    listedCache.set(model, local);
    return local;
  }
  const input = calc(model, { input_tokens: 1_000_000, output_tokens: 0 });
  const output = calc(model, { input_tokens: 0, output_tokens: 1_000_000 });
  const cached = input?.model_price.cache_read_mtok;
  const found =
    input && output
      ? {
          rate: {
            inputPer1k: input.total_price / 1000,
            outputPer1k: output.total_price / 1000,
            ...(typeof cached === 'number' ? { cachedInputPer1k: cached / 1000 } : {}),
          },
          provider: input.provider.id,
          modelId: input.model.id,
        }
      : undefined;
  listedCache.set(model, found);
  return found;
}

/** A model id without its trailing tier words: the family (`gpt-4.1-mini` → `gpt-4.1`). */
function family(id: string): string {
  const parts = id.split('-');
  while (parts.length > 1 && TIER_WORDS.has(parts[parts.length - 1]!)) parts.pop();
  return parts.join('-');
}

/**
 * The next step down a model's family at the same provider, from the price data: of the provider's
 * current (not deprecated) models of the same family that are cheaper for both input and output,
 * the dearest. `gpt-4o` → `gpt-4o-mini`, `gpt-4.1` → `gpt-4.1-mini` → `gpt-4.1-nano`,
 * `gemini-2.5-pro` → `gemini-2.5-flash` → `gemini-2.5-flash-lite`, `qwen-max` → `qwen-plus` → `qwen-fast`.
 */
export function derivedCheaperModel(model: string): string | undefined {
  const from = listed(model);
  if (!from) return undefined;
  const { providerId } = resolve(model);
  const provider = findProvider({ providerId: from.provider });
  let best: { name: string; total: number } | undefined;
  for (const candidate of provider?.models ?? []) {
    if (candidate.deprecated || candidate.id === from.modelId || family(candidate.id) !== family(from.modelId))
      continue;
    const name = providerId ? `${providerId}:${candidate.id}` : candidate.id;
    const rate = listed(name);
    if (!rate || rate.modelId !== candidate.id) continue;
    if (rate.rate.inputPer1k >= from.rate.inputPer1k || rate.rate.outputPer1k >= from.rate.outputPer1k) continue;
    const total = rate.rate.inputPer1k + rate.rate.outputPer1k;
    if (!best || total > best.total) best = { name, total };
  }
  if (!best) return undefined;
  // Said the way ADOS users say it, where a short name stands for it.
  return Object.entries(MODEL_ALIASES).find(([, target]) => target === best!.name)?.[0] ?? best.name;
}

/** The deployment's cheaper model for `model`: ADOS_CHEAPER_MODELS, else ADOS's chains, else the price data's. */
export function cheaperModelOf(model: string, overrides: Readonly<Record<string, string>>): string | undefined {
  if (model in overrides) return overrides[model] || undefined;
  return DEFAULT_CHAINS[model] ?? derivedCheaperModel(model);
}

let configuredChains: Readonly<Record<string, string>> | undefined;

/**
 * The prices a run estimates with, taken from the price source once when it starts and recorded in
 * its history: the default model, the models the run names, and every step down their chains.
 */
export function runPrices(runModels: readonly string[] = []): RunPrices {
  const overrides = (configuredChains ??= loadConfig().ADOS_CHEAPER_MODELS);
  const models: Record<string, ModelRate> = {};
  const pending = [DEFAULT_MODEL, ...runModels];
  for (let model = pending.pop(); model !== undefined; model = pending.pop()) {
    if (model in models) continue;
    const found = listed(model);
    if (!found) continue;
    const cheaper = cheaperModelOf(model, overrides);
    models[model] = { ...found.rate, ...(cheaper ? { cheaper } : {}) };
    if (cheaper) pending.push(cheaper);
  }
  return { source: PRICE_SOURCE.name, version: PRICE_SOURCE.version, models, chains: true };
}

/** Micro-dollars per output token of a model (for capping output to a budget). */
export function outputMicrosPerToken(model: string, negotiated?: NegotiatedRate): number {
  return priceLlmUsage(model, { inputTokens: 0, outputTokens: 1_000_000 }, negotiated).micros / 1_000_000;
}
