/** A run's plan: each node full or degraded, and the rest's expected cost. */
import {
  modelRate,
  priceLlmTokens,
  withNegotiatedRates,
  type NegotiatedRate,
  type RunPrices,
} from '../pricing/catalog';
import { DEFAULT_MAX_TOKENS, DEFAULT_TOP_K, forecastLlmTokens, forecastSearchCost } from '../prediction/token-model';
import type { DagNode } from './dag';
import { learnedEstimate, round4, type LearnedEstimate } from '../prediction/cost-model';
import {
  catalogEstimateMicros,
  degradedVariant,
  fullVariant,
  hintedEstimateMicros,
  nodeModel,
  type NodeVariant,
} from '../prediction/estimates';
import { preferenceKey, type RunLearning } from '../learning/profile';
import type { RunState } from './run-state';
import type { DegradePlan, LearnedChoice } from './run-result';

/**
 * How each node will run (full or degraded) and what the rest of the run is expected to cost.
 * Pure bookkeeping over RunState, so the CostAgent's inputs are testable without a server.
 */
export class RunPlan {
  private degradedNodes = new Set<string>();
  private learned: RunLearning | undefined;
  private preferred = new Map<string, string>();
  degraded = false;

  private prices: RunPrices | undefined;
  private negotiated: Readonly<Record<string, NegotiatedRate>> | undefined;

  /** `recorded`: the prices in the run's history; absent in runs from before they were, which estimate with the frozen table. */
  /** `promptBases`: per retrieval node, its prompt's tokens before passages (the launch's; absent in older runs). */
  constructor(
    private readonly run: RunState,
    private readonly recorded?: RunPrices,
    private readonly promptBases?: Readonly<Record<string, number>>,
  ) {
    this.prices = recorded;
  }

  /** The prices the plan estimates with now: the recorded ones, with the tenant's negotiated rates over them. */
  get runPrices(): RunPrices | undefined {
    return this.prices;
  }

  /** The tenant's negotiated rates (as its entity last said) apply to the nodes not started yet. */
  negotiate(rates: Readonly<Record<string, NegotiatedRate>> | undefined): void {
    if (rates === this.negotiated) return;
    this.negotiated = rates;
    this.prices = rates ? withNegotiatedRates(this.recorded, rates) : this.recorded;
  }

  /** The tenant's negotiated rate for a model, which the node's charge uses instead of the source's. */
  negotiatedRate(model: string | undefined): NegotiatedRate | undefined {
    return model === undefined ? undefined : this.negotiated?.[model];
  }

  /**
   * Takes in what the tenant has learned: its cost model for estimates, and the cheaper models
   * that proved themselves, which replace a node's model. Returns the switches it made.
   */
  learn(learned: RunLearning): LearnedChoice[] {
    this.learned = learned;
    const choices: LearnedChoice[] = [];
    for (const node of this.notStarted()) {
      const from = nodeModel(node);
      if (!from) continue;
      let model = from;
      let preference = learned.preferences[preferenceKey(node.kind, model)];
      // Follow a chain (gpt-4.1 → mini → nano) as far as each step has proven itself, never in a loop.
      for (let steps = 0; preference && steps < 4 && preference.toModel !== from; steps++) {
        choices.push({
          nodeId: node.id,
          kind: node.kind,
          fromModel: model,
          toModel: preference.toModel,
          evidence: preference.evidence,
        });
        model = preference.toModel;
        preference = learned.preferences[preferenceKey(node.kind, model)];
      }
      if (model !== from) this.preferred.set(node.id, model);
    }
    return choices;
  }

  variant(node: DagNode, degraded = this.degradedNodes.has(node.id)): NodeVariant {
    const preferred = this.preferred.get(node.id);
    return degraded ? degradedVariant(node, preferred, this.prices) : fullVariant(node, preferred);
  }

  isDegraded(nodeId: string): boolean {
    return this.degradedNodes.has(nodeId);
  }

  /** The catalog price of a variant at the run's recorded prices (what the tenant's cost model learns against). */
  catalogMicros(kind: string, variant: NodeVariant): number {
    return catalogEstimateMicros(kind, variant, this.prices);
  }

  estimate(node: DagNode): number {
    return this.estimateOf(node).micros;
  }

  /**
   * A node's expected cost: its own hint if it gives one, else the catalog's price corrected by
   * the tenant's learned cost model.
   */
  estimateOf(node: DagNode, degraded = this.degradedNodes.has(node.id)): LearnedEstimate {
    const variant = this.variant(node, degraded);
    const hinted = hintedEstimateMicros(node, variant, this.prices);
    if (hinted !== undefined)
      return { micros: hinted, confidence: 0.8, samples: 0, source: 'catalog', spreadMicros: Math.round(hinted / 5) };
    const forecast =
      node.kind === 'llm.generate'
        ? this.llmForecast(node, variant)
        : node.kind === 'retrieval.search'
          ? this.searchForecast(variant)
          : undefined;
    if (forecast) return forecast;
    return learnedEstimate(
      this.learned?.costModel,
      node.kind,
      variant.model,
      catalogEstimateMicros(node.kind, variant, this.prices),
    );
  }

  /** A retrieval search's cost from the searches the tenant ran over the same corpus (token-model.ts). */
  private searchForecast(variant: NodeVariant): LearnedEstimate | undefined {
    const corpus = typeof variant.params.corpus === 'string' ? variant.params.corpus : undefined;
    const q = forecastSearchCost(this.learned?.tokens, countParam(variant.params.top_k) ?? DEFAULT_TOP_K, corpus);
    if (!q) return undefined;
    return {
      micros: Math.round(q.p50),
      p5Micros: Math.round(q.p5),
      p95Micros: Math.round(q.p95),
      confidence: round4(q.count / (q.count + 3)),
      samples: q.count,
      source: 'learned',
      spreadMicros: Math.round((q.p95 - q.p5) / 4),
    };
  }

  /**
   * An llm.generate node's cost from the tenant's token model: the prompt's tokens once its
   * retrieval has run (else top_k × the corpus's tokens per passage), and output tokens from the
   * learned distribution for its model and max_tokens; undefined while the model has no samples
   * for it, or the node brings a prompt of its own.
   */
  private llmForecast(node: DagNode, variant: NodeVariant): LearnedEstimate | undefined {
    const model = variant.model;
    const tokens = this.learned?.tokens;
    if (!tokens || !model || !modelRate(model, this.prices) || typeof variant.params.prompt === 'string')
      return undefined;
    let known: { o200k?: number; exact?: number } = {};
    for (const output of Object.values(this.run.upstreamOutputs(node))) {
      const o = output as { promptTokens?: unknown; promptTokensByModel?: Record<string, unknown> } | null;
      const exact = o?.promptTokensByModel?.[model];
      if (typeof exact === 'number') known = { exact };
      else if (typeof o?.promptTokens === 'number') known = { o200k: o.promptTokens };
    }
    const retrieval = this.run.spec.dag.nodes.find((n) => node.deps.includes(n.id) && n.kind === 'retrieval.search');
    const retrievalParams = retrieval ? this.variant(retrieval).params : {};
    const f = forecastLlmTokens(
      tokens,
      model,
      countParam(variant.params.max_tokens) ?? DEFAULT_MAX_TOKENS,
      countParam(variant.params.num_candidates) ?? 1,
      {
        ...(known.exact !== undefined ? { exact: known.exact } : {}),
        ...(known.o200k !== undefined ? { known: known.o200k } : {}),
        ...(retrieval ? { topK: countParam(retrievalParams.top_k) ?? DEFAULT_TOP_K } : {}),
        ...(retrieval && this.promptBases?.[retrieval.id] !== undefined
          ? { base: this.promptBases[retrieval.id] }
          : {}),
        ...(typeof retrievalParams.corpus === 'string' ? { corpus: retrievalParams.corpus } : {}),
      },
    );
    if (!f) return undefined;
    const price = (input: number, output: number) => priceLlmTokens(model, input, output, this.prices);
    // Input and output move together (an answer quotes its passages; a long question draws long
    // ones), so their p5s add and their p95s add: treated as independent (root of the sum of
    // squares), one run shape of seven fell above its p95 every time.
    const p50 = price(f.input.p50, f.output.p50);
    const p5 = price(f.input.p5, f.output.p5);
    const p95 = price(f.input.p95, f.output.p95);
    return {
      micros: p50,
      p5Micros: p5,
      p95Micros: p95,
      // A published prior is trusted as the catalog is until the tenant's own samples take over.
      confidence: f.source === 'prior' ? 0.5 : round4(f.samples / (f.samples + 3)),
      samples: f.samples,
      source: f.source,
      spreadMicros: Math.round((p95 - p5) / 4),
    };
  }

  /** How much to trust the remaining estimate: the nodes' confidences weighted by their cost. */
  remainingConfidence(): number {
    const parts = this.notStarted().map((n) => this.estimateOf(n));
    const total = parts.reduce((sum, p) => sum + p.micros, 0);
    if (total === 0) return parts.length === 0 ? 1 : 0.5;
    return round4(parts.reduce((sum, p) => sum + p.micros * p.confidence, 0) / total);
  }

  /** Nodes that have not started: the ones a decision can still change. */
  notStarted(): DagNode[] {
    return this.run.spec.dag.nodes.filter((n) => this.run.nodes[n.id]!.status === 'PENDING');
  }

  /** Expected cost of every node not yet started, as planned now. */
  remainingMicros(): number {
    return this.notStarted().reduce((sum, n) => sum + this.estimate(n), 0);
  }

  /** Expected cost of the same nodes under a DEGRADE plan: non-critical ones skipped, the rest degraded. */
  remainingDegradedMicros(): number {
    return this.notStarted().reduce((sum, n) => sum + (n.critical ? this.estimateOf(n, true).micros : 0), 0);
  }

  /** Applies a DEGRADE plan to every node not yet started and says what it changed. */
  degrade(): DegradePlan {
    const plan: DegradePlan = { skipped: [], params: {}, models: {}, rerankDisabled: false };
    for (const node of this.notStarted()) {
      if (!node.critical) {
        this.run.markSkipped(node.id, 'skipped by a DEGRADE plan');
        this.run.nodes[node.id]!.degraded = true;
        plan.skipped.push(node.id);
        continue;
      }
      const before = this.variant(node, false);
      const after = this.variant(node, true);
      this.degradedNodes.add(node.id);
      const changed = Object.fromEntries(
        Object.entries(after.params).filter(([k, v]) => k !== 'model' && before.params[k] !== v),
      );
      if (Object.keys(changed).length > 0) plan.params[node.id] = changed;
      if (after.model && after.model !== before.model)
        plan.models[node.id] = { ...(before.model ? { from: before.model } : {}), to: after.model };
      if (after.params.rerank === false && before.params.rerank !== false) plan.rerankDisabled = true;
    }
    this.degraded = true;
    return plan;
  }
}

function countParam(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? value : undefined;
}
