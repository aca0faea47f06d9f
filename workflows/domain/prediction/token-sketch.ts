/** Token sketches: learned distributions with bounded relative error. */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/**
 * A learned distribution of positive values (output tokens per candidate as a share of max_tokens,
 * tokens per retrieved passage) as a DDSketch (Datadog's @datadog/sketches-js): quantiles within
 * 2% relative error, mergeable, and bounded (the lowest bins collapse past SKETCH_BINS). It lives
 * in the tenant entity's state as JSON, so it is carried across continue-as-new and recorded in
 * history; it is rebuilt from that JSON deterministically, so replay sees the same quantiles.
 */

export const SKETCH_ACCURACY = 0.02;
/** Bins a sketch keeps: 2% bins over a 1:10^6 range are ~350, so 128 cover values within 1:160. */
export const SKETCH_BINS = 128;

/** A sketch as stored: counts by bin index, zeros, total. */
export interface SketchState {
  bins: Record<string, number>;
  zeros: number;
  count: number;
}

export interface SketchQuantiles {
  p5: number;
  p50: number;
  p95: number;
  count: number;
}

export function emptySketch(): SketchState {
  return { bins: {}, zeros: 0, count: 0 };
}

function build(state: SketchState): LogCollapsingLowestDenseDDSketch {
  const sketch = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: SKETCH_ACCURACY, binLimit: SKETCH_BINS });
  for (const [key, count] of Object.entries(state.bins)) sketch.store.add(Number(key), count);
  sketch.zeroCount = state.zeros;
  sketch.count = state.count;
  return sketch;
}

function stateOf(sketch: LogCollapsingLowestDenseDDSketch): SketchState {
  const bins: Record<string, number> = {};
  const store = sketch.store;
  for (let i = 0; i < store.bins.length; i++) {
    const count = store.bins[i]!;
    if (count > 0) bins[String(i + store.offset)] = count;
  }
  return { bins, zeros: sketch.zeroCount, count: sketch.count };
}

/** The sketch with one more value (values ≤ 0 count as zeros). */
export function addToSketch(state: SketchState, value: number): SketchState {
  const sketch = build(state);
  sketch.accept(Math.max(0, value));
  return stateOf(sketch);
}

/** Two sketches' values together (the cross-tenant priors merge the contributors' sketches). */
export function mergeSketches(a: SketchState, b: SketchState): SketchState {
  const sketch = build(a);
  sketch.merge(build(b));
  return stateOf(sketch);
}

export function sketchQuantiles(state: SketchState): SketchQuantiles {
  if (state.count === 0) return { p5: 0, p50: 0, p95: 0, count: 0 };
  const sketch = build(state);
  return {
    p5: sketch.getValueAtQuantile(0.05),
    p50: sketch.getValueAtQuantile(0.5),
    p95: sketch.getValueAtQuantile(0.95),
    count: state.count,
  };
}

/** Bins of a share histogram: [0, 0.05), [0.05, 0.1), …, [0.95, ∞) — what tenants contribute to the priors. */
export const SHARE_BINS = 20;

/** A sketch's values (shares of max_tokens) as a histogram over SHARE_BINS equal bins of [0, 1], summing to 1. */
export function shareHistogram(state: SketchState): number[] {
  const histogram = new Array<number>(SHARE_BINS).fill(0);
  if (state.count === 0) return histogram;
  const sketch = build(state);
  const binOf = (value: number) => Math.min(SHARE_BINS - 1, Math.max(0, Math.floor(value * SHARE_BINS)));
  histogram[0]! += state.zeros / state.count;
  for (const [index, count] of Object.entries(state.bins))
    histogram[binOf(sketch.mapping.value(Number(index)))]! += count / state.count;
  return histogram;
}

/** Quantiles of a share histogram (mass spread evenly within each bin); `count` is what it stands for. */
export function histogramQuantiles(histogram: readonly number[], count: number): SketchQuantiles {
  const total = histogram.reduce((sum, h) => sum + Math.max(0, h), 0);
  const at = (q: number): number => {
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      const mass = Math.max(0, histogram[i]!) / total;
      if (mass > 0 && seen + mass >= q) return (i + (q - seen) / mass) / histogram.length;
      seen += mass;
    }
    return 1;
  };
  return total > 0 ? { p5: at(0.05), p50: at(0.5), p95: at(0.95), count } : { p5: 0, p50: 0, p95: 0, count: 0 };
}
