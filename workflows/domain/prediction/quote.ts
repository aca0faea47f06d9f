/** Quotes: what a run will cost before it runs (p5, p50, p95). */
import { usd, type RunPrices } from '../pricing/catalog';
import type { DeliveryRunSpec } from '../run/dag';
import type { QuoteInputs } from '../tenant/entity-payloads';
import { RunPlan } from '../run/run-plan';
import { RunState } from '../run/run-state';
import type { LearnedEstimate } from './cost-model';

/**
 * What a run will cost before it runs: for each node the estimate the CostAgent would start with
 * (its catalog price at the run's prices, corrected by the tenant's learned cost model, with the
 * cheaper models learning proved), and a spread around it; for the run, their sums.
 *
 * Node costs of one run tend to move together (a long question makes every node dearer), so the
 * run's spread is the sum of its nodes' spreads, not the root of the sum of squares: the interval
 * is wider than under independence, never narrower.
 *
 * p5 and p95 are not normal quantiles: run costs are lumpy (one kind of question may cost a tenth
 * less than the rest), so [p5, p95] is mean ± 2.108 spreads, which by the Vysochanskij–Petunin
 * inequality holds at least 90% of any unimodal distribution with that mean and spread (cut at 0).
 */

/** λ with 4 / (9 λ²) = 0.1: the half-width, in spreads, of an interval holding ≥ 90% of a unimodal distribution. */
const Z95 = 2.108;

export const QUOTE_BASES = ['learned', 'catalog'] as const;
export type QuoteBasis = (typeof QUOTE_BASES)[number];
/** A run's basis: `mixed` when the cost model covers some of its priced nodes. */
export const RUN_QUOTE_BASES = [...QUOTE_BASES, 'mixed'] as const;

export interface NodeQuote {
  nodeId: string;
  kind: string;
  model?: string;
  p5Usd: number;
  p50Usd: number;
  p95Usd: number;
  /** `learned` where the tenant's cost model (its own samples or a published prior) covers the node, else `catalog`. */
  basis: QuoteBasis;
  /** The tenant's own samples behind the figure. */
  samples: number;
}

export interface RunQuote {
  tenantId: string;
  p5Usd: number;
  p50Usd: number;
  p95Usd: number;
  /** 0..1, the nodes' confidences weighted by their cost. */
  confidence: number;
  /** `learned` when the cost model covers every priced node, `catalog` when it covers none, else `mixed`. */
  basis: QuoteBasis | 'mixed';
  byNode: NodeQuote[];
  /** The prices quoted with. */
  prices: { source: string; version: string };
}

/** Micro-dollar quantiles of a run's cost (used for the quote and for a lease held at p95). */
export function quoteMicros(plan: RunPlan): { p50: number; p95: number; p5: number } {
  let mean = 0;
  let low = 0;
  let high = 0;
  for (const node of plan.notStarted()) {
    const { low: l, high: h, micros } = nodeInterval(node.kind, plan.estimateOf(node));
    mean += micros;
    low += l;
    high += h;
  }
  return { p50: mean, p95: Math.round(high), p5: Math.max(0, Math.round(low)) };
}

/**
 * A node's [p5, p95]: its learned percentiles where its distributions give them, else mean ± Z95
 * spreads; exact for util kinds, whose cost is a param.
 */
function nodeInterval(kind: string, e: LearnedEstimate): { low: number; high: number; micros: number } {
  if (kind.startsWith('util.')) return { low: e.micros, high: e.micros, micros: e.micros };
  if (e.p5Micros !== undefined && e.p95Micros !== undefined)
    return { low: e.p5Micros, high: e.p95Micros, micros: e.micros };
  return { low: e.micros - Z95 * e.spreadMicros, high: e.micros + Z95 * e.spreadMicros, micros: e.micros };
}

export function quoteRun(
  spec: DeliveryRunSpec,
  prices: RunPrices,
  inputs: QuoteInputs,
  promptBases?: Readonly<Record<string, number>>,
): RunQuote {
  const plan = new RunPlan(new RunState(spec), prices, promptBases);
  plan.negotiate(inputs.negotiatedRates);
  plan.learn({ ...inputs.learning, explore: false });
  const byNode = spec.dag.nodes.map((node): NodeQuote => {
    const estimate = plan.estimateOf(node);
    const model = plan.variant(node).model;
    return {
      nodeId: node.id,
      kind: node.kind,
      ...(model ? { model } : {}),
      p5Usd: usd(Math.max(0, Math.round(nodeInterval(node.kind, estimate).low))),
      p50Usd: usd(estimate.micros),
      p95Usd: usd(Math.round(nodeInterval(node.kind, estimate).high)),
      basis: estimate.source === 'catalog' ? 'catalog' : 'learned',
      samples: estimate.samples,
    };
  });
  const priced = byNode.filter((n) => n.p50Usd > 0 && !n.kind.startsWith('util.'));
  const learned = priced.filter((n) => n.basis === 'learned').length;
  const { p5, p50, p95 } = quoteMicros(plan);
  return {
    tenantId: spec.tenantId,
    p5Usd: usd(p5),
    p50Usd: usd(p50),
    p95Usd: usd(p95),
    confidence: plan.remainingConfidence(),
    basis: learned === 0 ? 'catalog' : learned === priced.length ? 'learned' : 'mixed',
    byNode,
    prices: { source: prices.source, version: prices.version },
  };
}
