import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calcPrice } from '@pydantic/genai-prices';
import { PRICE_SOURCE, priceLlmUsage } from '../../activities/pricing';
import { llmGenerate } from '../../activities/nodes/llm';
import { toMicros } from '../../workflows/policy/catalog';

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
      llmGenerate.execute(
        {
          tenantId: 't',
          runId: 'r',
          nodeId: 'g',
          kind: 'llm.generate',
          params: { model: 'no-such-model' },
          upstream: {},
        },
        { signal: new AbortController().signal, attempt: 1, sleep: async () => undefined },
      ),
      /model no-such-model has no price in @pydantic\/genai-prices/,
    );
  });

  test('an llm.generate charge records provider, model, usage and the price source', async () => {
    const result = await llmGenerate.execute(
      {
        tenantId: 't',
        runId: 'r',
        nodeId: 'g',
        kind: 'llm.generate',
        params: { model: 'gpt-4o', prompt: 'hello' },
        upstream: {},
      },
      { signal: new AbortController().signal, attempt: 1, sleep: async () => undefined },
    );
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
});
