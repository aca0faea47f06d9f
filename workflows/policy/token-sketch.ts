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
