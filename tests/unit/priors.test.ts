import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { secureUniforms } from '../../activities/control';
import { learnCost, type CostModel } from '../../workflows/domain/prediction/cost-model';
import {
  DEFAULT_PRIORS_CONFIG,
  contributionFrom,
  laplaceFromUniform,
  drawsFor,
  mergeReleases,
  noisedPriors,
  priorCoordinates,
  releaseCoordinates,
  type CostStats,
  type PublishedPriors,
} from '../../workflows/domain/learning/priors';
import fc from 'fast-check';
import {
  SHARE_BINS,
  addToSketch,
  emptySketch,
  histogramQuantiles,
  shareHistogram,
} from '../../workflows/domain/prediction/token-sketch';

const config = { ...DEFAULT_PRIORS_CONFIG, epsilon: 0.5 };

describe('cross-tenant priors', () => {
  test("a contribution holds the tenant's own statistics, never the prior it was given", () => {
    const model: CostModel = { 'llm.generate|gpt-4o': { prior: { ratio: { value: 9, weight: 3 } } } };
    assert.deepEqual(contributionFrom(model), {});
    learnCost(model, { kind: 'llm.generate', model: 'gpt-4o', estimateMicros: 1000, costMicros: 1200 });
    assert.deepEqual(contributionFrom(model), { 'llm.generate|gpt-4o': { ratio: { n: 1, mean: 1.2 } } });
  });

  test('each coordinate is the mean of clipped per-tenant means, with Laplace scale clip · d / (m · ε)', () => {
    const contributions: Record<string, CostStats> = {
      a: { 'llm.generate|gpt-4o': { ratio: { n: 40, mean: 1.2 } }, scrape: { absolute: { n: 3, mean: 500_000 } } },
      b: { 'llm.generate|gpt-4o': { ratio: { n: 2, mean: 1.6 } } },
    };
    const coordinates = priorCoordinates(contributions, config);
    assert.deepEqual(
      coordinates.map((c) => ({ ...c, rawMean: Math.round(c.rawMean * 1e9) / 1e9 })),
      [
        { key: 'llm.generate|gpt-4o', basis: 'ratio', rawMean: 1.4, contributors: 2, noiseScale: (4 * 2) / (2 * 0.5) },
        // Clipped to 100,000 µ$ before averaging: one tenant's outlier moves the mean by at most clip / m.
        { key: 'scrape', basis: 'absolute', rawMean: 100_000, contributors: 1, noiseScale: (100_000 * 2) / (1 * 0.5) },
      ],
    );
  });

  test('the published value is the raw mean plus the Laplace draw, clipped to the bounds', () => {
    const coordinates = priorCoordinates({ a: { k: { ratio: { n: 5, mean: 1 } } } }, config);
    const b = coordinates[0]!.noiseScale;
    const released = noisedPriors({ cost: coordinates, tokens: [] }, [0.1], config, 1, '2026-01-01T00:00:00.000Z');
    assert.equal(released.entries.k?.ratio?.value, Math.min(4, Math.max(0, 1 + laplaceFromUniform(0.1, b))));
    assert.equal(released.entries.k?.ratio?.noiseScale, b);
    assert.equal(released.epsilon, 0.5);
  });

  test('output-length histograms: each tenant weighs the same, ε is split over every coordinate, the release is a distribution', () => {
    const bins = (at: Record<number, number>) => Array.from({ length: SHARE_BINS }, (_, i) => at[i] ?? 0);
    const release = releaseCoordinates(
      { a: { k: { ratio: { n: 5, mean: 1 } } } },
      // A big tenant (counts) and a small one (shares) weigh the same once normalized; a malformed one is left out.
      { a: { 'm|256': bins({ 19: 900, 18: 100 }) }, b: { 'm|256': bins({ 4: 1 }) }, c: { 'm|256': [1, 2] } },
      config,
    );
    assert.equal(release.cost[0]!.noiseScale, (4 * 2) / (1 * 0.5), 'the cost coordinate shares ε with the histogram');
    assert.equal(release.tokens.length, 1);
    const [h] = release.tokens;
    assert.equal(h!.contributors, 2);
    assert.deepEqual(
      h!.rawShares.map((x) => Math.round(x * 1e9) / 1e9),
      bins({ 19: 0.45, 18: 0.05, 4: 0.5 }),
    );
    // L1 sensitivity 2 / m, d = 2 coordinates: b = 2 · 2 / (2 · 0.5).
    assert.equal(h!.noiseScale, 4);
    assert.equal(drawsFor(release), 1 + SHARE_BINS);
    const uniforms = Array.from({ length: drawsFor(release) }, (_, i) => (i % 2 ? 0.2 : -0.3));
    const released = noisedPriors(release, uniforms, config, 1, '2026-01-01T00:00:00.000Z');
    const shares = released.tokens!['m|256']!.shares;
    const noised = h!.rawShares.map((x, i) => Math.max(0, x + laplaceFromUniform(uniforms[1 + i]!, 4)));
    const total = noised.reduce((p, q) => p + q, 0);
    assert.deepEqual(
      shares,
      noised.map((x) => x / total),
      'negative bins cut to 0, the rest rescaled',
    );
    assert.ok(Math.abs(shares.reduce((p, q) => p + q, 0) - 1) < 1e-9);
  });

  test('a histogram gives its quantiles, mass spread evenly within each bin', () => {
    const at = (i: number, mass: number) => Array.from({ length: SHARE_BINS }, (_, j) => (j === i ? mass : 0));
    const q = histogramQuantiles(at(10, 1), 3);
    assert.deepEqual(
      [q.p5, q.p50, q.p95, q.count].map((x) => Math.round(x * 1e6) / 1e6),
      [0.5025, 0.525, 0.5475, 3],
    );
    const sketch = [0.32, 0.33, 0.92, 0.97].reduce(addToSketch, emptySketch());
    const histogram = shareHistogram(sketch);
    assert.equal(histogram[6], 0.5);
    assert.equal(histogram[18], 0.25);
    assert.equal(histogram[19], 0.25);
  });

  test('noise from the CSPRNG has the stated Laplace scale: mean |x| ≈ b, variance ≈ 2b², median ≈ 0', () => {
    const b = 3;
    const xs = secureUniforms(40_000).map((u) => laplaceFromUniform(u, b));
    const meanAbs = xs.reduce((s, x) => s + Math.abs(x), 0) / xs.length;
    const variance = xs.reduce((s, x) => s + x * x, 0) / xs.length;
    const sorted = [...xs].sort((p, q) => p - q);
    assert.ok(Math.abs(meanAbs - b) / b < 0.03, `mean |x| ${meanAbs} vs b ${b}`);
    assert.ok(Math.abs(variance - 2 * b * b) / (2 * b * b) < 0.08, `variance ${variance} vs ${2 * b * b}`);
    assert.ok(Math.abs(sorted[xs.length / 2]!) < 0.1, `median ${sorted[xs.length / 2]}`);
    const us = secureUniforms(1000);
    assert.ok(us.every((u) => u > -0.5 && u < 0.5));
  });

  test('below minContributors a coordinate is not published at all', () => {
    assert.deepEqual(
      priorCoordinates({ a: { k: { ratio: { n: 5, mean: 1 } } } }, { ...config, minContributors: 2 }),
      [],
    );
  });

  const release = (
    version: number,
    entries: PublishedPriors['entries'],
    tokens?: PublishedPriors['tokens'],
  ): PublishedPriors => ({
    version,
    publishedAt: new Date(Date.UTC(2026, 11, 1, 0, version)).toISOString(),
    epsilon: 1,
    clip: DEFAULT_PRIORS_CONFIG.clip,
    entries,
    ...(tokens ? { tokens } : {}),
  });

  test('releases of several placements combine: inverse-variance means, contributors summed, one scale of the same variance', () => {
    const eu = release(3, {
      'llm.generate|gpt-4o': { ratio: { value: 1.2, contributors: 4, noiseScale: 1 } },
      'retrieval.search|': { absolute: { value: 500, contributors: 4, noiseScale: 100 } },
    });
    const us = release(5, { 'llm.generate|gpt-4o': { ratio: { value: 1.5, contributors: 1, noiseScale: 2 } } });
    const merged = mergeReleases([
      { source: 'ados-eu', priors: eu },
      { source: 'ados-us', priors: us },
    ])!;
    const ratio = merged.entries['llm.generate|gpt-4o']!.ratio!;
    // Weights 1/b²: 1 and 1/4, so (1.2 + 1.5/4) / 1.25 = 1.26.
    assert.ok(Math.abs(ratio.value - 1.26) < 1e-12, `${ratio.value}`);
    assert.equal(ratio.contributors, 5);
    assert.ok(Math.abs(ratio.noiseScale - 1 / Math.sqrt(1.25)) < 1e-12);
    // A coordinate only one release publishes is kept as it is.
    assert.deepEqual(merged.entries['retrieval.search|']!.absolute, { value: 500, contributors: 4, noiseScale: 100 });
    // The version grows whenever either release is replaced by a newer one.
    assert.equal(merged.version, 8);
    assert.equal(merged.publishedAt, us.publishedAt);
    assert.deepEqual(
      merged.sources!.map((s) => `${s.source} v${s.version}`),
      ['ados-eu v3', 'ados-us v5'],
    );
    assert.equal(mergeReleases([{ source: 'ados-eu', priors: eu }]), eu, 'one release is the priors as published');
    assert.equal(mergeReleases([]), undefined);
  });

  test('a combination is post-processing: each value stays within the releases it combines, its scale below every one of theirs, each histogram a distribution', () => {
    const prior = fc.record({
      value: fc.double({ min: 0, max: 4, noNaN: true }),
      contributors: fc.integer({ min: 1, max: 50 }),
      noiseScale: fc.double({ min: 0.01, max: 100, noNaN: true }),
    });
    const histogram = fc
      .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: SHARE_BINS, maxLength: SHARE_BINS })
      .filter((h) => h.reduce((a, b) => a + b, 0) > 0.01)
      .map((h) => h.map((x) => x / h.reduce((a, b) => a + b, 0)));
    const tokens = fc.record({
      shares: histogram,
      contributors: fc.integer({ min: 1, max: 50 }),
      noiseScale: fc.double({ min: 0.01, max: 10, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(prior, tokens), { minLength: 2, maxLength: 5 }), (parts) => {
        const merged = mergeReleases(
          parts.map(([p, t], i) => ({
            source: `ns-${i}`,
            priors: release(i + 1, { k: { ratio: p } }, { 'm|256': t }),
          })),
        )!;
        const values = parts.map(([p]) => p.value);
        const combined = merged.entries.k!.ratio!;
        assert.ok(combined.value >= Math.min(...values) - 1e-9 && combined.value <= Math.max(...values) + 1e-9);
        assert.ok(combined.noiseScale <= Math.min(...parts.map(([p]) => p.noiseScale)) + 1e-12);
        assert.equal(
          combined.contributors,
          parts.reduce((n, [p]) => n + p.contributors, 0),
        );
        const shares = merged.tokens!['m|256']!.shares;
        assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
        assert.ok(shares.every((x) => x >= 0));
      }),
      { seed: 35, numRuns: 200 },
    );
  });
});
