/**
 * The learned cost model: per tenant, per (node kind, model), what a node really costs.
 *
 * Each recorded node cost is one sample. Where the catalog can price the node in advance, the
 * sample is the ratio actual / catalog estimate, so that one statistic covers every parameter
 * setting of the kind (three candidates or one, top_k 5 or 3); where it cannot (user kinds), the
 * sample is the absolute cost in micro-dollars. Pure, so the CostAgent and the tests use it alike.
 */

/** Welford's running mean and sum of squared deviations. */
export interface RunningStat {
  n: number;
  mean: number;
  m2: number;
}

/** The basis of a sample: relative to the catalog price, or absolute micro-dollars. */
export type CostBasis = 'ratio' | 'absolute';

/** A published cross-tenant prior for one basis, counted as this many samples. */
export interface CostPrior {
  value: number;
  weight: number;
}

export interface CostModelEntry {
  ratio?: RunningStat;
  absolute?: RunningStat;
  prior?: Partial<Record<CostBasis, CostPrior>>;
}

/** Keyed by `costModelKey(kind, model)`. */
export type CostModel = Record<string, CostModelEntry>;

export interface CostSample {
  kind: string;
  model?: string;
  /** The catalog's estimate of the variant that ran (0 when the catalog cannot price it). */
  estimateMicros: number;
  costMicros: number;
}

export interface LearnedEstimate {
  micros: number;
  /** 0..1: grows with samples, falls with spread. */
  confidence: number;
  samples: number;
  source: 'catalog' | 'learned' | 'prior';
  /** One standard deviation of the cost, in micro-dollars: from the samples' spread where there are enough, else ±50%. */
  spreadMicros: number;
  /** The 5th and 95th percentiles, where they come from learned distributions (token-model.ts) rather than a spread. */
  p5Micros?: number;
  p95Micros?: number;
}

/** Samples a statistic needs before its own spread is trusted (down to ±5%); below it, the spread is at least ±25%. */
const SPREAD_SAMPLES = 5;

/**
 * Beyond this many samples a statistic keeps a fixed weight per new sample, so it follows price
 * changes instead of freezing on old ones.
 */
export const MAX_EFFECTIVE_SAMPLES = 500;
/** The model keeps at most this many (kind, model) entries; it is sent to every admitted run. */
export const MAX_COST_MODEL_ENTRIES = 128;
/** Samples a prior counts as. Small, so a tenant's own costs take over after a few runs. */
export const PRIOR_WEIGHT = 3;

export function costModelKey(kind: string, model?: string): string {
  return model ? `${kind}|${model}` : kind;
}

export function emptyStat(): RunningStat {
  return { n: 0, mean: 0, m2: 0 };
}

export function observe(stat: RunningStat, x: number): RunningStat {
  const n = Math.min(stat.n + 1, MAX_EFFECTIVE_SAMPLES);
  const delta = x - stat.mean;
  const mean = stat.mean + delta / n;
  const m2 =
    stat.n + 1 > MAX_EFFECTIVE_SAMPLES ? stat.m2 * (1 - 1 / n) + delta * (x - mean) : stat.m2 + delta * (x - mean);
  return { n, mean, m2 };
}

export function stdDev(stat: RunningStat): number {
  return stat.n > 1 ? Math.sqrt(Math.max(0, stat.m2) / (stat.n - 1)) : 0;
}

/** Adds one recorded node cost to the model. Samples with nothing to learn (free and unpriced) are ignored. */
export function learnCost(model: CostModel, sample: CostSample): void {
  const basis: CostBasis = sample.estimateMicros > 0 ? 'ratio' : 'absolute';
  if (basis === 'absolute' && sample.costMicros === 0) return;
  const key = costModelKey(sample.kind, sample.model);
  if (!model[key] && Object.keys(model).length >= MAX_COST_MODEL_ENTRIES) return;
  const entry = (model[key] ??= {});
  const x = basis === 'ratio' ? sample.costMicros / sample.estimateMicros : sample.costMicros;
  entry[basis] = observe(entry[basis] ?? emptyStat(), x);
}

/**
 * What a node of this kind and model is expected to cost, given the catalog's estimate of the
 * variant: the catalog's figure corrected by what this tenant's nodes really cost (blended with
 * the published prior while the tenant has few samples of its own).
 */
export function learnedEstimate(
  model: CostModel | undefined,
  kind: string,
  modelName: string | undefined,
  catalogMicros: number,
): LearnedEstimate {
  const basis: CostBasis = catalogMicros > 0 ? 'ratio' : 'absolute';
  const entry = model?.[costModelKey(kind, modelName)];
  const stat = entry?.[basis];
  const prior = entry?.prior?.[basis];
  const n = stat?.n ?? 0;
  const w = prior ? prior.weight : 0;
  if (n + w === 0)
    return {
      micros: catalogMicros,
      confidence: catalogMicros > 0 ? 0.5 : 0,
      samples: 0,
      source: 'catalog',
      spreadMicros: Math.round(catalogMicros / 2),
    };
  const mean = (n * (stat?.mean ?? 0) + w * (prior?.value ?? 0)) / (n + w);
  const micros = Math.max(0, Math.round(basis === 'ratio' ? catalogMicros * mean : mean));
  // Spread relative to the mean; a lone sample (or a prior alone) is assumed to be ±50%.
  const cv = n > 1 && mean > 0 ? stdDev(stat!) / mean : 0.5;
  const confidence = round4(((n + w / 2) / (n + w / 2 + 3)) * (1 / (1 + cv)));
  const sd = n > 1 ? stdDev(stat!) * (basis === 'ratio' ? catalogMicros : 1) : 0;
  // Identical samples say little about the next cost: never narrower than ±5%.
  const spreadMicros = Math.round(Math.max(sd, micros * (n >= SPREAD_SAMPLES ? 0.05 : n > 1 ? 0.25 : 0.5)));
  return { micros, confidence, samples: n, source: n > 0 ? 'learned' : 'prior', spreadMicros };
}

/** Four decimals: confidences, shares and ratios as status views and decisions show them. */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
