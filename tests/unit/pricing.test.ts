import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calcPrice } from '@pydantic/genai-prices';
import {
  DEFAULT_CHAINS,
  MODEL_ALIASES,
  PRICE_SOURCE,
  cheaperModelOf,
  priceLlmUsage,
  runPrices,
} from '../../activities/pricing';
import { llmGenerate } from '../../activities/nodes/llm';
import type { NodeTask } from '../../workflows/ports/activities';
import { cheaperModel, toMicros } from '../../workflows/domain/pricing/catalog';

/** One llm.generate node run directly, with the given params (and extra task fields). */
function generate(params: Record<string, unknown>, extra: Partial<NodeTask> = {}) {
  return llmGenerate.execute(
    { tenantId: 't', runId: 'r', nodeId: 'g', kind: 'llm.generate', params, upstream: {}, ...extra },
    { signal: new AbortController().signal, attempt: 1, sleep: async () => undefined },
  );
}

describe('prices from @pydantic/genai-prices', () => {
  test('the same usage priced by ADOS and by genai-prices directly: identical micro-dollars, five models, three providers', () => {
    const usage = { inputTokens: 12_345, outputTokens: 2_345, cachedInputTokens: 4_000 };
    const models = [
      ['gpt-4o', 'openai'],
      ['gpt-4.1-mini', 'openai'],
      ['claude-sonnet-4-0', 'anthropic'],
      ['claude-3-5-haiku-latest', 'anthropic'],
      ['gemini-2.0-flash', 'google'],
    ] as const;
    for (const [model, provider] of models) {
      const direct = calcPrice({ input_tokens: 12_345, output_tokens: 2_345, cache_read_tokens: 4_000 }, model)!;
      const ados = priceLlmUsage(model, usage);
      assert.equal(ados.micros, toMicros(direct.total_price), model);
      assert.ok(ados.micros > 0, `${model} costs something`);
      assert.deepEqual(ados.pricing, {
        provider,
        priceModel: direct.model.id,
        source: '@pydantic/genai-prices',
        sourceVersion: PRICE_SOURCE.version,
        ...usage,
      });
    }
    assert.match(PRICE_SOURCE.version, /^\d+\.\d+\.\d+$/);
  });

  test('cached input tokens cost less than fresh ones; a model without a price is refused naming it', async () => {
    const fresh = priceLlmUsage('gpt-4o', { inputTokens: 10_000, outputTokens: 0 }).micros;
    const cached = priceLlmUsage('gpt-4o', { inputTokens: 10_000, outputTokens: 0, cachedInputTokens: 10_000 }).micros;
    assert.equal(fresh, 25_000);
    assert.equal(cached, 12_500);
    await assert.rejects(
      generate({ model: 'no-such-model' }),
      /model no-such-model has no price in @pydantic\/genai-prices/,
    );
  });

  test('an llm.generate charge records provider, model, usage and the price source', async () => {
    const result = await generate({ model: 'gpt-4o', prompt: 'hello' });
    const out = result.output as { inputTokens: number; outputTokens: number };
    assert.deepEqual(result.pricing, {
      provider: 'openai',
      priceModel: 'gpt-4o',
      source: '@pydantic/genai-prices',
      sourceVersion: PRICE_SOURCE.version,
      inputTokens: out.inputTokens,
      outputTokens: out.outputTokens,
    });
    assert.equal(result.costMicros, priceLlmUsage('gpt-4o', out).micros);
  });

  test('Qwen models are priced through the provider that lists them: qwen-fast is openrouter:qwen/qwen-turbo', () => {
    const direct = calcPrice({ input_tokens: 10_000, output_tokens: 2_000 }, 'qwen/qwen-turbo', {
      providerId: 'openrouter',
    })!;
    const ados = priceLlmUsage('qwen-fast', { inputTokens: 10_000, outputTokens: 2_000 });
    assert.equal(ados.micros, toMicros(direct.total_price));
    assert.equal(ados.pricing.provider, 'openrouter');
    assert.equal(ados.pricing.priceModel, 'qwen/qwen-turbo');
    assert.equal(priceLlmUsage('openrouter:qwen/qwen-plus', { inputTokens: 1000, outputTokens: 0 }).micros, 400);
  });

  test('cheaper-model chains: same-provider cheaper models from the price data, ADOS_CHEAPER_MODELS over them', () => {
    const chain = (model: string, overrides = {}) => {
      const steps = [model];
      for (let next = cheaperModelOf(model, overrides); next; next = cheaperModelOf(next, overrides)) steps.push(next);
      return steps;
    };
    assert.deepEqual(chain('gpt-4.1'), ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano']);
    assert.deepEqual(chain('gpt-4o'), ['gpt-4o', 'gpt-4o-mini']);
    assert.deepEqual(chain('gemini-2.5-pro'), ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite']);
    assert.deepEqual(chain('qwen-max'), ['qwen-max', 'qwen-plus', 'qwen-fast']);
    assert.deepEqual(chain('claude-sonnet'), ['claude-sonnet', 'claude-haiku']);
    assert.deepEqual(chain('gpt-4o', { 'gpt-4o': 'gpt-4.1-nano' }), ['gpt-4o', 'gpt-4.1-nano']);
    assert.deepEqual(chain('gpt-4.1', { 'gpt-4.1': '' }), ['gpt-4.1'], '"" ends the chain');
    // Every step ADOS keeps by hand is a cheaper model of the same provider in the price data.
    for (const [from, to] of Object.entries(DEFAULT_CHAINS)) {
      const a = priceLlmUsage(from, { inputTokens: 1e6, outputTokens: 1e6 });
      const b = priceLlmUsage(to, { inputTokens: 1e6, outputTokens: 1e6 });
      assert.equal(a.pricing.provider, b.pricing.provider, `${from} → ${to}: same provider`);
      assert.ok(b.micros < a.micros, `${from} → ${to}: cheaper`);
    }
    for (const alias of Object.keys(MODEL_ALIASES))
      assert.ok(priceLlmUsage(alias, { inputTokens: 1, outputTokens: 1 }));
  });

  test('a run’s prices hold the models it names and every step down their chains, with the chains', () => {
    const prices = runPrices(['qwen-max']);
    assert.equal(prices.chains, true);
    assert.deepEqual(Object.keys(prices.models).sort(), ['gpt-4o-mini', 'qwen-fast', 'qwen-max', 'qwen-plus']);
    assert.equal(cheaperModel('qwen-max', prices), 'qwen-plus');
    assert.equal(cheaperModel('qwen-fast', prices), undefined);
    // Runs recorded before chains were carried follow the frozen ones.
    assert.equal(cheaperModel('gpt-4o', { ...prices, chains: undefined }), 'gpt-4o-mini');
    assert.equal(prices.models['qwen-plus']!.inputPer1k, 0.0004);
  });

  test('a negotiated rate prices the charge instead of the list price and is recorded with it', async () => {
    const negotiated = { inputPerMtok: 1, outputPerMtok: 4, cachedInputPerMtok: 0.25 };
    const usage = { inputTokens: 10_000, outputTokens: 1_000, cachedInputTokens: 4_000 };
    // 6,000 fresh × $1 + 4,000 cached × $0.25 + 1,000 out × $4, per million.
    assert.equal(priceLlmUsage('gpt-4o', usage, negotiated).micros, 11_000);
    assert.deepEqual(priceLlmUsage('gpt-4o', usage, negotiated).pricing.negotiated, negotiated);
    // A model the price data does not know can be charged at a negotiated rate.
    const result = await generate(
      { model: 'acme-private-llm', prompt: 'hello' },
      { negotiatedRate: { inputPerMtok: 2, outputPerMtok: 2 } },
    );
    const out = result.output as { inputTokens: number; outputTokens: number };
    assert.equal(result.costMicros, toMicros(((out.inputTokens + out.outputTokens) * 2) / 1e6));
    assert.equal(result.pricing?.provider, 'negotiated');
  });
});
