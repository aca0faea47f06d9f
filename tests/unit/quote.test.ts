import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runPrices } from '../../activities/pricing';
import { learnCost, type CostModel } from '../../workflows/domain/prediction/cost-model';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { quoteRun } from '../../workflows/domain/prediction/quote';

const spec = deliveryRunInputSchema.parse({
  tenantId: 'acme',
  dag: {
    nodes: [
      { id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o' } },
      { id: 'fee', kind: 'util.sleep', deps: ['generate'], params: { costUsd: 0.01 } },
    ],
  },
});

describe('quotes', () => {
  test('from the catalog: p50 the estimate, ±50% per priced node, util nodes exact', () => {
    const q = quoteRun(spec, runPrices(['gpt-4o']), {
      learning: { costModel: {}, preferences: {} },
      leaseAt: 'estimate',
    });
    const generate = q.byNode[0]!;
    assert.equal(q.basis, 'catalog');
    assert.equal(generate.basis, 'catalog');
    assert.equal(q.byNode[1]!.p95Usd, 0.01, 'a util node costs exactly its param');
    assert.equal(Math.round(q.p50Usd * 1e6), Math.round(generate.p50Usd * 1e6) + 10_000);
    // p95 = mean + 2.108 × (half the LLM estimate); p5 cut at 0.
    assert.equal(Math.round(q.p95Usd * 1e6), Math.round((q.p50Usd + 2.108 * 0.5 * generate.p50Usd) * 1e6));
    assert.equal(q.p5Usd, Math.max(0, Math.round((q.p50Usd - 2.108 * 0.5 * generate.p50Usd) * 1e6) / 1e6));
  });

  test('from what the tenant learned: its ratio moves p50, its spread sets the interval', () => {
    const costModel: CostModel = {};
    const catalog = quoteRun(spec, runPrices(['gpt-4o']), {
      learning: { costModel, preferences: {} },
      leaseAt: 'estimate',
    });
    const estimate = Math.round(catalog.byNode[0]!.p50Usd * 1e6);
    // Ten runs at 0.8× and 1.2× of the catalog price: mean 1.0×, spread ≈ 0.21×.
    for (let i = 0; i < 10; i++)
      learnCost(costModel, {
        kind: 'llm.generate',
        model: 'gpt-4o',
        estimateMicros: estimate,
        costMicros: Math.round(estimate * (i % 2 ? 0.8 : 1.2)),
      });
    const q = quoteRun(spec, runPrices(['gpt-4o']), { learning: { costModel, preferences: {} }, leaseAt: 'estimate' });
    assert.equal(q.basis, 'learned');
    assert.equal(q.byNode[0]!.samples, 10);
    assert.ok(q.p95Usd - q.p50Usd < catalog.p95Usd - catalog.p50Usd, 'narrower than the catalog’s ±50%');
    assert.ok(q.p95Usd > q.p50Usd);
    // Negotiated rates reprice the quote.
    const cheaper = quoteRun(spec, runPrices(['gpt-4o']), {
      learning: { costModel: {}, preferences: {} },
      negotiatedRates: { 'gpt-4o': { inputPerMtok: 0.25, outputPerMtok: 1 } },
      leaseAt: 'estimate',
    });
    assert.ok(Math.abs(cheaper.byNode[0]!.p50Usd * 10 - catalog.byNode[0]!.p50Usd) < 2e-6, 'a tenth of the list price');
  });
});
