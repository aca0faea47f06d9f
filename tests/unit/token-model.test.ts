import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  addToSketch,
  emptySketch,
  mergeSketches,
  sketchQuantiles,
  SHARE_BINS,
  SKETCH_ACCURACY,
  SKETCH_BINS,
} from '../../workflows/domain/prediction/token-sketch';
import {
  emptyTokenModel,
  featuresOf,
  forecastLlmTokens,
  learnTokens,
  maxTokensBucket,
  tokenContribution,
  tokenQuantiles,
} from '../../workflows/domain/prediction/token-model';

/** The exact q-quantile of sorted values, as DDSketch defines rank (lower value at rank q·(n−1)). */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

describe('token sketches', () => {
  test('property: p5, p50 and p95 are within the sketch’s relative accuracy of the data’s, through JSON', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        let state = emptySketch();
        for (const x of xs) state = JSON.parse(JSON.stringify(addToSketch(state, x)));
        const q = sketchQuantiles(state);
        const sorted = [...xs].sort((a, b) => a - b);
        for (const [p, value] of [
          [0.05, q.p5],
          [0.5, q.p50],
          [0.95, q.p95],
        ] as const) {
          const exact = exactQuantile(sorted, p);
          assert.ok(Math.abs(value - exact) <= exact * SKETCH_ACCURACY * 1.01, `p${p * 100}: ${value} vs ${exact}`);
        }
        assert.equal(q.count, xs.length);
      }),
      { numRuns: 100 },
    );
  });

  test('merged sketches answer as one sketch of both; a sketch stays within its bins however wide the values', () => {
    let a = emptySketch();
    let b = emptySketch();
    let both = emptySketch();
    for (let i = 1; i <= 200; i++) {
      const x = i % 2 ? i : i * 1.7;
      if (i % 3) a = addToSketch(a, x);
      else b = addToSketch(b, x);
      both = addToSketch(both, x);
    }
    assert.deepEqual(sketchQuantiles(mergeSketches(a, b)), sketchQuantiles(both));
    let wide = emptySketch();
    for (let i = 0; i < 2000; i++) wide = addToSketch(wide, 1.01 ** i);
    assert.ok(Object.keys(wide.bins).length <= SKETCH_BINS);
    assert.equal(wide.count, 2000);
  });
});

describe('the token model', () => {
  test('learns output shares per model and max_tokens bucket, input ratios per model, prompt tokens per passage', () => {
    const model = emptyTokenModel();
    for (let i = 0; i < 10; i++) {
      const f = featuresOf(
        'llm.generate',
        { max_tokens: 100, num_candidates: 2 },
        { output: { promptTokens: 400 }, pricing: { inputTokens: 480, outputTokens: 100 + i * 10 } },
      );
      learnTokens(model, 'llm.generate', 'local-model', f.features!);
      learnTokens(
        model,
        'retrieval.search',
        undefined,
        featuresOf('retrieval.search', { top_k: 4 }, { output: { promptTokens: 400 + i, baseTokens: 20 } }).features!,
      );
    }
    assert.equal(maxTokensBucket(100), 128);
    const q = tokenQuantiles(model);
    assert.ok(Math.abs(q.output['local-model|128|2']!.p50 - 0.7) < 0.03);
    assert.ok(Math.abs(q.input['local-model']!.p50 - 1.2) < 0.03);
    assert.ok(Math.abs(q.prompt['default|4']!.p50 - 96) < 3);
    // Before retrieval: top_k × tokens per passage × the model's input ratio; after: the prompt's own count × the ratio.
    const before = forecastLlmTokens(q, 'local-model', 100, 2, { topK: 4, base: 20 })!;
    assert.ok(Math.abs(before.input.p50 - (20 + 4 * 96) * 1.2) < 15);
    const after = forecastLlmTokens(q, 'local-model', 100, 2, { known: 300 })!;
    assert.ok(Math.abs(after.input.p50 - 360) < 8);
    assert.ok(after.output.p5 <= after.output.p50 && after.output.p50 <= after.output.p95 && after.output.p95 <= 200);
    // A model it never saw has no forecast: the catalog's estimate stands.
    assert.equal(forecastLlmTokens(q, 'other', 100, 1, { known: 300 }), undefined);
  });
});

describe('cross-tenant output priors', () => {
  const llm = (shares: number[], maxTokens = 256) => {
    const model = emptyTokenModel();
    for (const share of shares)
      learnTokens(model, 'llm.generate', 'gpt-4o-mini', {
        maxTokens,
        candidates: 1,
        outputTokens: Math.round(share * maxTokens),
        inputTokens: 500,
        promptTokens: 500,
      });
    return model;
  };

  test('a tenant contributes a histogram per model and bucket, summing to 1 whatever its volume', () => {
    const contribution = tokenContribution(llm([0.42, 0.42, 0.42, 0.93]));
    assert.deepEqual(Object.keys(contribution), ['gpt-4o-mini|256']);
    const histogram = contribution['gpt-4o-mini|256']!;
    assert.equal(histogram.length, SHARE_BINS);
    assert.equal(histogram[8], 0.75);
    assert.equal(histogram[18], 0.25);
  });

  test('the prior stands in until the tenant has 20 samples of its own for the bucket, then steps aside', () => {
    // The prior says answers use about 90% of max_tokens; the tenant's own few say 30%.
    const prior = { 'gpt-4o-mini|256': Array.from({ length: SHARE_BINS }, (_, i) => (i === 18 ? 1 : 0)) };
    const prompt = { exact: 800 };
    const few = forecastLlmTokens(tokenQuantiles(llm([0.3, 0.3, 0.3]), prior), 'gpt-4o-mini', 256, 1, prompt)!;
    assert.equal(few.source, 'prior');
    assert.equal(few.samples, 0);
    assert.ok(few.output.p50 > 0.9 * 256 && few.output.p50 < 0.95 * 256, `p50 ${few.output.p50}`);
    const many = forecastLlmTokens(
      tokenQuantiles(llm(Array.from({ length: 20 }, () => 0.3)), prior),
      'gpt-4o-mini',
      256,
      1,
      prompt,
    )!;
    assert.equal(many.source, 'learned');
    assert.equal(many.samples, 20);
    assert.ok(Math.abs(many.output.p50 - 0.3 * 256) <= 0.3 * 256 * SKETCH_ACCURACY + 1, `p50 ${many.output.p50}`);
    // Another bucket has no prior: the tenant's own coarser sketch, as before.
    const other = forecastLlmTokens(tokenQuantiles(llm([0.3, 0.3, 0.3]), prior), 'gpt-4o-mini', 64, 1, prompt)!;
    assert.equal(other.source, 'learned');
    // A tenant with no samples at all forecasts from the prior alone.
    const cold = forecastLlmTokens(tokenQuantiles(emptyTokenModel(), prior), 'gpt-4o-mini', 200, 1, prompt)!;
    assert.equal(cold.source, 'prior');
  });
});
