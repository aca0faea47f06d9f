/** Cross-tenant priors with differential privacy. */
import type { CostBasis, CostModel } from '../prediction/cost-model';
import { SHARE_BINS } from '../prediction/token-sketch';

/**
 * Cross-tenant cost priors with differential privacy (the Laplace mechanism).
 *
 * What is protected: each contributing tenant's cost statistics. Each tenant gives one value per
 * (kind, model) and basis — its own mean, clipped to [0, clip] — so replacing one tenant's data
 * moves the mean over m contributors by at most clip / m. A release of d coordinates splits ε
 * evenly, so each coordinate gets Laplace noise of scale b = clip · d / (m · ε), and the whole
 * release is ε-differentially private for each tenant. Which tenants opted in is not hidden.
 * Every release spends ε again for each tenant whose data entered it (basic composition); each
 * tenant's total per accounting period is capped (privacy-budget.ts).
 */

export interface PriorsConfig {
  /** Privacy loss per release, for the whole release. @default 1 */
  epsilon: number;
  /** Contributions are clipped to [0, clip] before averaging. @default { ratio: 4, absolute: 100000 } (absolute in micro-dollars) */
  clip: Record<CostBasis, number>;
  /** A coordinate is published only with at least this many contributors. @default 1 */
  minContributors: number;
  /** Releases are at least this far apart. @default 3600 */
  publishIntervalSeconds: number;
  /** Most ε a tenant's data may lose per accounting period (privacy-budget.ts). @default 10 */
  epsilonTotal: number;
  /** A tenant's accounting period, in seconds. @default 2592000 (30 days) */
  accountingSeconds: number;
}

export const DEFAULT_PRIORS_CONFIG: PriorsConfig = {
  epsilon: 1,
  clip: { ratio: 4, absolute: 100_000 },
  minContributors: 1,
  publishIntervalSeconds: 3600,
  epsilonTotal: 10,
  accountingSeconds: 2_592_000,
};

/** One tenant's statistics: per key and basis, its sample count and mean. */
export type CostStats = Record<string, Partial<Record<CostBasis, { n: number; mean: number }>>>;

/**
 * One tenant's output lengths: per `model|max_tokens bucket`, its shares of max_tokens as a
 * histogram over SHARE_BINS equal bins, summing to 1 (token-sketch.ts shareHistogram), so that
 * every tenant weighs the same whatever its volume.
 */
export type TokenStats = Record<string, number[]>;

/**
 * A histogram coordinate of a release: the contributors' histograms averaged. Replacing one
 * tenant's histogram moves the average by at most 2 / m in L1 (two distributions differ by at
 * most 2), so each bin gets Laplace noise of scale 2 · d / (m · ε), d counting every coordinate
 * of the release, cost and histogram alike.
 */
export interface HistogramCoordinate {
  key: string;
  /** Never published, only noised. */
  rawShares: number[];
  contributors: number;
  noiseScale: number;
}

export interface PublishedTokenPrior {
  /** The noised histogram, negative bins cut to 0 and the rest rescaled to sum 1 (post-processing, no privacy cost). */
  shares: number[];
  contributors: number;
  noiseScale: number;
}

export interface PriorCoordinate {
  key: string;
  basis: CostBasis;
  /** Mean of the contributors' clipped means: never published, only noised. */
  rawMean: number;
  contributors: number;
  /** Laplace scale b = clip · d / (m · ε). */
  noiseScale: number;
}

export interface PublishedPrior {
  value: number;
  contributors: number;
  noiseScale: number;
}

export interface PublishedPriors {
  version: number;
  publishedAt: string;
  epsilon: number;
  clip: Record<CostBasis, number>;
  entries: Record<string, Partial<Record<CostBasis, PublishedPrior>>>;
  /** Output-length priors per `model|max_tokens bucket`; absent in releases without token contributions. */
  tokens?: Record<string, PublishedTokenPrior>;
  /** In priors combined from several releases (mergeReleases): each release's source and version. */
  sources?: Array<{ source: string; version: number; publishedAt: string }>;
}

/** A tenant's own statistics (priors excluded): what it contributes. */
export function contributionFrom(model: CostModel): CostStats {
  const stats: CostStats = {};
  for (const [key, entry] of Object.entries(model)) {
    for (const basis of ['ratio', 'absolute'] as const) {
      const stat = entry[basis];
      if (stat && stat.n > 0) (stats[key] ??= {})[basis] = { n: stat.n, mean: stat.mean };
    }
  }
  return stats;
}

/** Every coordinate of a release: the cost means and the output-length histograms, ε split over all of them. */
export interface ReleaseCoordinates {
  cost: PriorCoordinate[];
  tokens: HistogramCoordinate[];
}

/** The coordinates a release would publish, with their raw values and noise scales. */
export function releaseCoordinates(
  contributions: Record<string, CostStats>,
  tokenContributions: Record<string, TokenStats>,
  config: PriorsConfig,
): ReleaseCoordinates {
  const histograms = new Map<string, number[][]>();
  for (const tenantId of Object.keys(tokenContributions).sort())
    for (const [key, histogram] of Object.entries(tokenContributions[tenantId]!)) {
      const normalized = normalizedHistogram(histogram);
      if (normalized) histograms.set(key, [...(histograms.get(key) ?? []), normalized]);
    }
  const kept = [...histograms.entries()]
    .filter(([, list]) => list.length >= config.minContributors)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const cost = priorCoordinates(contributions, config, kept.length);
  const d = cost.length + kept.length;
  return {
    cost,
    tokens: kept.map(([key, list]) => ({
      key,
      rawShares: list[0]!.map((_, i) => list.reduce((sum, h) => sum + h[i]!, 0) / list.length),
      contributors: list.length,
      noiseScale: (2 * d) / (list.length * config.epsilon),
    })),
  };
}

/** A contributed histogram of SHARE_BINS finite, non-negative bins, rescaled to sum 1; undefined if it is not one. */
function normalizedHistogram(histogram: unknown): number[] | undefined {
  if (!Array.isArray(histogram) || histogram.length !== SHARE_BINS) return undefined;
  if (!histogram.every((h) => typeof h === 'number' && Number.isFinite(h) && h >= 0)) return undefined;
  const total = (histogram as number[]).reduce((a, b) => a + b, 0);
  return total > 0 ? (histogram as number[]).map((h) => h / total) : undefined;
}

/**
 * The cost coordinates a release would publish, with their raw means and noise scales; `others`
 * counts the release's other coordinates, which share its ε.
 */
export function priorCoordinates(
  contributions: Record<string, CostStats>,
  config: PriorsConfig,
  others = 0,
): PriorCoordinate[] {
  const values = new Map<string, { key: string; basis: CostBasis; values: number[] }>();
  for (const tenantId of Object.keys(contributions).sort()) {
    for (const [key, bases] of Object.entries(contributions[tenantId]!)) {
      for (const basis of ['ratio', 'absolute'] as const) {
        const stat = bases[basis];
        if (!stat || stat.n <= 0 || !Number.isFinite(stat.mean)) continue;
        const id = `${key}#${basis}`;
        const entry = values.get(id) ?? { key, basis, values: [] };
        entry.values.push(Math.min(config.clip[basis], Math.max(0, stat.mean)));
        values.set(id, entry);
      }
    }
  }
  const kept = [...values.values()]
    .filter((v) => v.values.length >= config.minContributors)
    .sort((a, b) => (a.key + a.basis < b.key + b.basis ? -1 : 1));
  const d = kept.length + others;
  return kept.map((v) => ({
    key: v.key,
    basis: v.basis,
    rawMean: v.values.reduce((a, b) => a + b, 0) / v.values.length,
    contributors: v.values.length,
    noiseScale: (config.clip[v.basis] * d) / (v.values.length * config.epsilon),
  }));
}

/** Laplace(0, b) from a uniform draw u in (-0.5, 0.5), by the inverse CDF. */
export function laplaceFromUniform(u: number, scale: number): number {
  const clamped = Math.max(-0.5 + 1e-12, Math.min(0.5 - 1e-12, u));
  return -scale * Math.sign(clamped) * Math.log(1 - 2 * Math.abs(clamped));
}

/** The uniform draws a release needs: one per cost coordinate, one per bin of each histogram. */
export function drawsFor(coordinates: ReleaseCoordinates): number {
  return coordinates.cost.length + coordinates.tokens.length * SHARE_BINS;
}

/**
 * Noised, clipped values for the coordinates; `uniforms` holds drawsFor(coordinates) draws in
 * (-0.5, 0.5): the cost coordinates' first, then each histogram's bins.
 */
export function noisedPriors(
  { cost: coordinates, tokens }: ReleaseCoordinates,
  uniforms: number[],
  config: PriorsConfig,
  version: number,
  publishedAt: string,
): PublishedPriors {
  const entries: PublishedPriors['entries'] = {};
  const tokenPriors: Record<string, PublishedTokenPrior> = {};
  tokens.forEach((c, j) => {
    const offset = coordinates.length + j * SHARE_BINS;
    const noised = c.rawShares.map((share, i) =>
      Math.max(0, share + laplaceFromUniform(uniforms[offset + i] ?? 0, c.noiseScale)),
    );
    const total = noised.reduce((a, b) => a + b, 0);
    // All bins noised below zero: nothing to publish for the key.
    if (total > 0)
      tokenPriors[c.key] = {
        shares: noised.map((n) => n / total),
        contributors: c.contributors,
        noiseScale: c.noiseScale,
      };
  });
  coordinates.forEach((c, i) => {
    const noised = c.rawMean + laplaceFromUniform(uniforms[i] ?? 0, c.noiseScale);
    // Clipping after the noise is post-processing: it costs no privacy.
    (entries[c.key] ??= {})[c.basis] = {
      value: Math.min(config.clip[c.basis], Math.max(0, noised)),
      contributors: c.contributors,
      noiseScale: c.noiseScale,
    };
  });
  return {
    version,
    publishedAt,
    epsilon: config.epsilon,
    clip: config.clip,
    entries,
    ...(Object.keys(tokenPriors).length > 0 ? { tokens: tokenPriors } : {}),
  };
}

/** The priors as a tenant's cost model takes them: one value per key and basis. */
export function priorValues(priors: PublishedPriors): Record<string, { ratio?: number; absolute?: number }> {
  return Object.fromEntries(
    Object.entries(priors.entries).map(([key, bases]) => [
      key,
      {
        ...(bases.ratio ? { ratio: bases.ratio.value } : {}),
        ...(bases.absolute ? { absolute: bases.absolute.value } : {}),
      },
    ]),
  );
}

/**
 * Several releases combined into one set of priors (post-processing, no privacy cost): each
 * coordinate is the inverse-variance weighted mean of the releases that publish it (a Laplace
 * release of scale b has variance 2b², so a release with more contributors or less noise weighs
 * more), its contributors summed, and its scale the one of a single release of the same variance,
 * 1 / √Σ(1/b²). Token histograms are weighted the same way and rescaled to sum 1. The version is
 * the sum of the releases' versions, so it grows whenever any of them is replaced by a newer one.
 * Releases are taken in the order given; `clip` and `epsilon` are the first's. Undefined for none.
 */
export function mergeReleases(
  releases: Array<{ source: string; priors: PublishedPriors }>,
): PublishedPriors | undefined {
  if (releases.length === 0) return undefined;
  if (releases.length === 1) return releases[0]!.priors;
  const cost = new Map<string, Array<PublishedPrior>>();
  const tokens = new Map<string, Array<PublishedTokenPrior>>();
  for (const { priors } of releases) {
    for (const [key, bases] of Object.entries(priors.entries))
      for (const basis of ['ratio', 'absolute'] as const) {
        const prior = bases[basis];
        if (prior && Number.isFinite(prior.value) && prior.noiseScale > 0)
          cost.set(`${key}#${basis}`, [...(cost.get(`${key}#${basis}`) ?? []), prior]);
      }
    for (const [key, prior] of Object.entries(priors.tokens ?? {}))
      if (prior.noiseScale > 0 && prior.shares.length === SHARE_BINS)
        tokens.set(key, [...(tokens.get(key) ?? []), prior]);
  }
  const entries: PublishedPriors['entries'] = {};
  for (const [id, list] of [...cost.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const cut = id.lastIndexOf('#');
    const weights = list.map((p) => 1 / p.noiseScale ** 2);
    const total = weights.reduce((a, b) => a + b, 0);
    (entries[id.slice(0, cut)] ??= {})[id.slice(cut + 1) as CostBasis] = {
      value: list.reduce((sum, p, i) => sum + weights[i]! * p.value, 0) / total,
      contributors: list.reduce((sum, p) => sum + p.contributors, 0),
      noiseScale: 1 / Math.sqrt(total),
    };
  }
  const tokenPriors: Record<string, PublishedTokenPrior> = {};
  for (const [key, list] of [...tokens.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const weights = list.map((p) => 1 / p.noiseScale ** 2);
    const total = weights.reduce((a, b) => a + b, 0);
    const shares = list[0]!.shares.map((_, bin) => list.reduce((sum, p, i) => sum + weights[i]! * p.shares[bin]!, 0));
    const mass = shares.reduce((a, b) => a + b, 0);
    if (mass > 0)
      tokenPriors[key] = {
        shares: shares.map((s) => s / mass),
        contributors: list.reduce((sum, p) => sum + p.contributors, 0),
        noiseScale: 1 / Math.sqrt(total),
      };
  }
  const first = releases[0]!.priors;
  return {
    version: releases.reduce((sum, r) => sum + r.priors.version, 0),
    publishedAt: releases.map((r) => r.priors.publishedAt).reduce((a, b) => (a > b ? a : b)),
    epsilon: first.epsilon,
    clip: first.clip,
    entries,
    ...(Object.keys(tokenPriors).length > 0 ? { tokens: tokenPriors } : {}),
    sources: releases.map(({ source, priors }) => ({
      source,
      version: priors.version,
      publishedAt: priors.publishedAt,
    })),
  };
}
