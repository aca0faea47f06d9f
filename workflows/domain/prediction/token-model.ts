/** The token model: what a tenant's LLM nodes use, learned. */
import type { TokenStats } from '../learning/priors';
import {
  SKETCH_ACCURACY,
  addToSketch,
  emptySketch,
  histogramQuantiles,
  mergeSketches,
  shareHistogram,
  sketchQuantiles,
  type SketchQuantiles,
  type SketchState,
} from './token-sketch';

/**
 * What a tenant's LLM nodes really use, in tokens, learned as distributions (token-sketch.ts) from
 * the features of every node that ran, not one ratio per (kind, model):
 *
 * - `output`: output tokens per candidate as a share of max_tokens, per model and max_tokens
 *   bucket (a power of two). Output lengths are heavy-tailed even for one prompt, so p5/p50/p95
 *   come from the sketch, never from a mean ± σ.
 * - `input`: the model's input tokens over the prompt's o200k count (1 for the OpenAI families
 *   and the offline provider; the local model's own tokenizer and chat format differ), per model.
 * - `prompt`: o200k prompt tokens per retrieved passage, beyond the instruction and question,
 *   per corpus and top_k: what a quote multiplies by top_k and adds to the question's own tokens
 *   (counted by the starter) before any passage is retrieved.
 * - `cost`: what a retrieval search costs, in micro-dollars, per corpus and top_k (the price of a
 *   search follows the corpus it scores, which the catalog's per-top_k guess does not know).
 */
export interface TokenModel {
  output: Record<string, SketchState>;
  input: Record<string, SketchState>;
  prompt: Record<string, SketchState>;
  /** Absent in states recorded before searches were learned by corpus. */
  cost?: Record<string, SketchState>;
}

/** A node's usage features, as its charge reports them. */
export interface NodeFeatures {
  /** llm.generate: the max_tokens and candidates it ran with, and the usage it was charged. */
  maxTokens?: number;
  candidates?: number;
  inputTokens?: number;
  outputTokens?: number;
  /** The prompt's o200k tokens (llm.generate from its retrieval; retrieval.search for its own passages). */
  promptTokens?: number;
  /** retrieval.search: the prompt's tokens before passages (instruction and question), passages asked for, and the corpus. */
  baseTokens?: number;
  topK?: number;
  corpus?: string;
}

/** The quantiles a run estimates with (the sketches stay in the entity). */
export interface TokenQuantiles {
  output: Record<string, SketchQuantiles>;
  input: Record<string, SketchQuantiles>;
  prompt: Record<string, SketchQuantiles>;
  cost?: Record<string, SketchQuantiles>;
  /** Published cross-tenant output shares per `model|max_tokens bucket` (count 0: none of them the tenant's own). */
  outputPrior?: Record<string, SketchQuantiles>;
}

/** Sketches per family; each is at most SKETCH_BINS bins, so a tenant's token model stays within ~100 KB. */
export const MAX_TOKEN_SKETCHES = 48;
export const DEFAULT_CORPUS = 'default';
/** The defaults of the built-in kinds (activities/nodes): max_tokens of llm.generate, top_k of retrieval.search. */
export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_TOP_K = 5;

export function emptyTokenModel(): TokenModel {
  return { output: {}, input: {}, prompt: {}, cost: {} };
}

/** max_tokens rounded up to a power of two: answers under 64 and under 512 tokens are learned apart. */
export function maxTokensBucket(maxTokens: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, maxTokens)));
}

/** The prompt sketch of a corpus and top_k: an average over more passages varies less. */
export function promptKey(corpus: string, topK: number): string {
  return `${corpus}|${topK}`;
}

/** The cost sketch of a retrieval search over a corpus with a top_k. */
export function searchCostKey(corpus: string, topK: number): string {
  return `retrieval.search|${corpus}|${topK}`;
}

/** The output sketch of a model, max_tokens bucket and number of candidates. */
export function outputKey(model: string, maxTokens: number, candidates: number): string {
  return `${model}|${maxTokensBucket(maxTokens)}|${candidates}`;
}

/**
 * The keys an output forecast looks under, most specific first: the model, bucket and candidates;
 * the model and bucket (any candidates); the model alone. Each coarser one is the finer ones merged.
 */
function outputKeys(model: string, maxTokens: number, candidates: number): string[] {
  return [outputKey(model, maxTokens, candidates), `${model}|${maxTokensBucket(maxTokens)}|*`, `${model}|*`];
}

function learnInto(family: Record<string, SketchState>, key: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) return;
  if (!family[key] && Object.keys(family).length >= MAX_TOKEN_SKETCHES) return;
  family[key] = addToSketch(family[key] ?? emptySketch(), value);
}

/** Adds one node's features (and, for a search, its cost) to the model. */
export function learnTokens(
  model: TokenModel,
  kind: string,
  nodeModel: string | undefined,
  f: NodeFeatures,
  costMicros?: number,
): void {
  if (kind === 'llm.generate' && nodeModel) {
    if (f.maxTokens && f.candidates && f.outputTokens !== undefined)
      learnInto(
        model.output,
        outputKey(nodeModel, f.maxTokens, f.candidates),
        f.outputTokens / (f.candidates * f.maxTokens),
      );
    if (f.inputTokens && f.promptTokens) learnInto(model.input, nodeModel, f.inputTokens / f.promptTokens);
  }
  if (kind === 'retrieval.search' && f.promptTokens && f.topK && f.baseTokens !== undefined)
    learnInto(
      model.prompt,
      promptKey(f.corpus ?? DEFAULT_CORPUS, f.topK),
      Math.max(0, f.promptTokens - f.baseTokens) / f.topK,
    );
  if (kind === 'retrieval.search' && f.topK && costMicros !== undefined)
    learnInto((model.cost ??= {}), searchCostKey(f.corpus ?? DEFAULT_CORPUS, f.topK), costMicros);
}

/**
 * Samples a sketch needs before it is used alone; below, the next coarser one (outputKeys, a
 * corpus over every top_k). A new value falls outside the range of n earlier ones with chance
 * 2 / (n + 1), so [p5, p95] of fewer than 20 samples would hold less than 90% of what comes next.
 */
export const BUCKET_SAMPLES = 20;

export function tokenQuantiles(model: TokenModel, priors?: Readonly<Record<string, number[]>>): TokenQuantiles {
  // A sketch's answer is within its relative accuracy of the data's, either side: the interval is
  // widened by that much, so a value seen again and again is never just outside it.
  const widened = (q: SketchQuantiles): SketchQuantiles => ({
    ...q,
    p5: q.p5 * (1 - SKETCH_ACCURACY),
    p95: q.p95 * (1 + SKETCH_ACCURACY),
  });
  const of = (family: Record<string, SketchState>) =>
    Object.fromEntries(Object.entries(family).map(([key, sketch]) => [key, widened(sketchQuantiles(sketch))]));
  // Coarser sketches, for keys with too few samples of their own: a bucket over any candidates, a
  // model over any bucket, a corpus over any top_k.
  const into = (merged: Record<string, SketchState>, key: string, sketch: SketchState) =>
    (merged[key] = merged[key] ? mergeSketches(merged[key], sketch) : sketch);
  const merged: Record<string, SketchState> = {};
  for (const [key, sketch] of Object.entries(model.output)) {
    const [name, bucket] = splitOutputKey(key);
    into(merged, `${name}|${bucket}|*`, sketch);
    into(merged, `${name}|*`, sketch);
  }
  // A corpus over any top_k, for prompts and for searches' costs.
  const anyTopK = (family: Record<string, SketchState>) => {
    const coarser: Record<string, SketchState> = {};
    for (const [key, sketch] of Object.entries(family))
      into(coarser, `${key.slice(0, key.lastIndexOf('|'))}|*`, sketch);
    return { ...of(family), ...of(coarser) };
  };
  return {
    output: { ...of(model.output), ...of(merged) },
    input: of(model.input),
    prompt: anyTopK(model.prompt),
    ...(model.cost ? { cost: anyTopK(model.cost) } : {}),
    ...(priors
      ? {
          outputPrior: Object.fromEntries(
            Object.entries(priors).map(([key, histogram]) => [key, widened(histogramQuantiles(histogram, 0))]),
          ),
        }
      : {}),
  };
}

/**
 * What an opted-in tenant contributes to the cross-tenant priors: per model and max_tokens bucket
 * (over any candidates), its output shares as a histogram summing to 1 (priors.ts).
 */
export function tokenContribution(model: TokenModel): TokenStats {
  const byBucket: Record<string, SketchState> = {};
  for (const [key, sketch] of Object.entries(model.output)) {
    const [name, bucket] = splitOutputKey(key);
    const at = `${name}|${bucket}`;
    byBucket[at] = byBucket[at] ? mergeSketches(byBucket[at], sketch) : sketch;
  }
  return Object.fromEntries(Object.entries(byBucket).map(([key, sketch]) => [key, shareHistogram(sketch)]));
}

/** What a retrieval search over `corpus` with `topK` will cost, in micro-dollars, from the searches the tenant ran. */
export function forecastSearchCost(
  q: TokenQuantiles | undefined,
  topK: number,
  corpus = DEFAULT_CORPUS,
): SketchQuantiles | undefined {
  return mostSpecific(q?.cost, [searchCostKey(corpus, topK), `retrieval.search|${corpus}|*`]);
}

/** Token quantiles of an LLM node: input (one figure when known, else a range) and output. */
export interface LlmTokenForecast {
  input: { p5: number; p50: number; p95: number };
  output: { p5: number; p50: number; p95: number };
  /** The tenant's own samples behind the output figure (0 when it comes from the published prior). */
  samples: number;
  source: 'learned' | 'prior';
}

/**
 * What an llm.generate node will use, from the tenant's learned quantiles: output from its
 * (model, max_tokens bucket) sketch; input exact when its retrieval counted the prompt on this
 * model (`exact`), else from the prompt's o200k tokens (`known`) or, before retrieval, top_k × the
 * corpus's tokens per passage, times the model's input ratio. Undefined while the output sketch has
 * no samples.
 */
export function forecastLlmTokens(
  q: TokenQuantiles | undefined,
  model: string,
  maxTokens: number,
  candidates: number,
  prompt: { exact?: number; known?: number; base?: number; topK?: number; corpus?: string },
): LlmTokenForecast | undefined {
  // The tenant's own sketch once it has enough samples, else the published prior for the model and
  // bucket, else the tenant's coarser sketches.
  const prior = q?.outputPrior?.[`${model}|${maxTokensBucket(maxTokens)}`];
  const output = mostSpecific(q?.output, outputKeys(model, maxTokens, candidates), prior);
  if (!output) return undefined;
  const most = candidates * maxTokens;
  const at = (x: number) => Math.min(most, Math.round(x * most));
  const forecast = (input: { p5: number; p50: number; p95: number }): LlmTokenForecast => ({
    input,
    output: { p5: at(output.p5), p50: at(output.p50), p95: at(output.p95) },
    samples: output.count,
    source: output === prior ? 'prior' : 'learned',
  });
  // Counted on the model itself: the input cost is exact.
  if (prompt.exact !== undefined) return forecast({ p5: prompt.exact, p50: prompt.exact, p95: prompt.exact });
  let input: { p5: number; p50: number; p95: number };
  if (prompt.known !== undefined) input = { p5: prompt.known, p50: prompt.known, p95: prompt.known };
  else {
    if (!prompt.topK) return undefined;
    const corpus = prompt.corpus ?? DEFAULT_CORPUS;
    const perPassage = mostSpecific(q?.prompt, [promptKey(corpus, prompt.topK), `${corpus}|*`]);
    if (!perPassage) return undefined;
    const k = prompt.topK;
    const base = prompt.base ?? 0;
    input = { p5: base + k * perPassage.p5, p50: base + k * perPassage.p50, p95: base + k * perPassage.p95 };
  }
  const ratio = q?.input[model];
  const r = ratio && ratio.count > 0 ? ratio : { p5: 1, p50: 1, p95: 1 };
  const scale = (x: number, by: number) => Math.round(x * by);
  return forecast({ p5: scale(input.p5, r.p5), p50: scale(input.p50, r.p50), p95: scale(input.p95, r.p95) });
}

/** The first of `keys` (most specific first) with BUCKET_SAMPLES samples, else `prior`, else the last with any. */
function mostSpecific(
  family: Record<string, SketchQuantiles> | undefined,
  keys: readonly string[],
  prior?: SketchQuantiles,
): SketchQuantiles | undefined {
  const found = keys.map((key) => family?.[key]);
  const enough = found.find((q) => q && q.count >= BUCKET_SAMPLES);
  if (enough) return enough;
  if (prior) return prior;
  const last = found[found.length - 1];
  return last && last.count > 0 ? last : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A node's features from the params it ran with and its outcome, for its charge; none for other kinds. */
export function featuresOf(
  kind: string,
  params: Record<string, unknown>,
  outcome: { output: unknown; pricing?: { inputTokens: number; outputTokens: number } },
): { features?: NodeFeatures } {
  const output = (outcome.output ?? {}) as Record<string, unknown>;
  if (kind === 'llm.generate' && outcome.pricing)
    return {
      features: {
        maxTokens: count(params.max_tokens) ?? DEFAULT_MAX_TOKENS,
        candidates: count(params.num_candidates) ?? 1,
        inputTokens: outcome.pricing.inputTokens,
        outputTokens: outcome.pricing.outputTokens,
        ...(count(output.promptTokens) !== undefined ? { promptTokens: count(output.promptTokens) } : {}),
      },
    };
  if (kind === 'retrieval.search' && count(output.promptTokens) !== undefined)
    return {
      features: {
        promptTokens: count(output.promptTokens)!,
        ...(count(output.baseTokens) !== undefined ? { baseTokens: count(output.baseTokens) } : {}),
        topK: count(params.top_k) ?? DEFAULT_TOP_K,
        ...(typeof params.corpus === 'string' ? { corpus: params.corpus } : {}),
      },
    };
  return {};
}

/** A stored output key's model and bucket (a model name may hold `|`: the last two parts are the bucket and candidates). */
function splitOutputKey(key: string): [string, string] {
  const parts = key.split('|');
  return [parts.slice(0, -2).join('|'), parts[parts.length - 2]!];
}
