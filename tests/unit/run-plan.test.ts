import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { estimateNodeMicros } from '../../workflows/domain/prediction/estimates';
import { RunPlan } from '../../workflows/domain/run/run-plan';
import { RunState } from '../../workflows/domain/run/run-state';
import { priceLlmTokens } from '../../workflows/domain/pricing/catalog';

function plan(nodes: unknown[]) {
  const run = new RunState(deliveryRunInputSchema.parse({ tenantId: 'acme', dag: { nodes } }));
  return { run, plan: new RunPlan(run) };
}

const rag = [
  { id: 'retrieve', kind: 'retrieval.search', params: { query: 'q', top_k: 8 } },
  { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o', num_candidates: 3 } },
  { id: 'advanced_reranking', kind: 'rerank', deps: ['generate'], critical: false },
  { id: 'evaluate', kind: 'eval.score', deps: ['advanced_reranking'] },
];

describe('DEGRADE plans', () => {
  test('built-in defaults: fewer candidates, smaller top_k, the cheaper model, optional nodes skipped', () => {
    const { run, plan: p } = plan(rag);
    const degradePlan = p.degrade();
    assert.deepEqual(degradePlan, {
      skipped: ['advanced_reranking'],
      params: { retrieve: { top_k: 3 }, generate: { num_candidates: 1 } },
      models: { generate: { from: 'gpt-4o', to: 'gpt-4o-mini' } },
      rerankDisabled: false,
    });
    assert.equal(run.nodes.advanced_reranking!.status, 'SKIPPED');
    assert.deepEqual(p.variant(run.node('generate')), {
      params: { model: 'gpt-4o-mini', num_candidates: 1 },
      model: 'gpt-4o-mini',
    });
  });

  test("a node's own degrade params and model win over the defaults, and reranking is disabled", () => {
    const { run, plan: p } = plan([
      {
        id: 'generate',
        kind: 'llm.generate',
        params: { model: 'gpt-4.1', num_candidates: 4, rerank: true },
        degrade: { params: { num_candidates: 2 }, model: 'gpt-4.1-nano' },
      },
      { id: 'rerank', kind: 'rerank', deps: ['generate'] },
    ]);
    const degradePlan = p.degrade();
    assert.deepEqual(degradePlan.params.generate, { num_candidates: 2, rerank: false });
    assert.deepEqual(degradePlan.models.generate, { from: 'gpt-4.1', to: 'gpt-4.1-nano' });
    assert.deepEqual(degradePlan.params.rerank, { rerank: false });
    assert.equal(degradePlan.rerankDisabled, true);
    assert.equal(p.variant(run.node('rerank')).params.rerank, false);
  });

  test('estimates: catalog prices for LLM calls, exact costs for util nodes, given estimates scaled when degraded', () => {
    const { run, plan: p } = plan([
      { id: 'gen', kind: 'llm.generate', params: { model: 'gpt-4o', num_candidates: 2 } },
      { id: 'sleep', kind: 'util.sleep', params: { costUsd: 0.25 } },
      { id: 'hinted', kind: 'llm.generate', params: { model: 'gpt-4o', num_candidates: 3 }, estimatedCostUsd: 0.03 },
    ]);
    assert.equal(p.estimate(run.node('gen')), priceLlmTokens('gpt-4o', 1200, 512));
    assert.equal(p.estimate(run.node('sleep')), 250_000);
    assert.equal(p.estimate(run.node('hinted')), 30_000);
    const degraded = estimateNodeMicros(run.node('hinted'), true);
    assert.ok(degraded < 30_000 / 10, `the cheaper model and one candidate cost far less (${degraded})`);
    assert.equal(p.remainingMicros(), priceLlmTokens('gpt-4o', 1200, 512) + 250_000 + 30_000);
  });
});
