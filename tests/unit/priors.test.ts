import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { secureUniforms } from '../../activities/control';
import { learnCost, type CostModel } from '../../workflows/policy/cost-model';
import {
  DEFAULT_PRIORS_CONFIG,
  contributionFrom,
  laplaceFromUniform,
  noisedPriors,
  priorCoordinates,
  type CostStats,
} from '../../workflows/policy/priors';

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
    const released = noisedPriors(coordinates, [0.1], config, 1, '2026-01-01T00:00:00.000Z');
    assert.equal(released.entries.k?.ratio?.value, Math.min(4, Math.max(0, 1 + laplaceFromUniform(0.1, b))));
    assert.equal(released.entries.k?.ratio?.noiseScale, b);
    assert.equal(released.epsilon, 0.5);
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
});
