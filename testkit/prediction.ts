/**
 * The prediction measurement on a generated mixed workload (prediction-workload.ts): quotes against
 * actual costs, the run projection at start and half-way, and each LLM node's counted input tokens.
 * `npm run bench:prediction` reports it (bench/prediction.ts), and a test holds the offline
 * provider's figures (tests/integration/quote-coverage.test.ts).
 */
import type { Client } from '@temporalio/client';
import { configureTenant, quote, runOutcome, startRun, tenantStatus } from '../api/client';
import { LOCAL_MODEL } from '../infra/llm/local-model';
import { toMicros } from '../workflows/domain/pricing/catalog';
import type { DeliveryRunResult } from '../workflows/domain/run/run-result';
import { nodeOutcomesOf } from './history';
import { predictionWorkload, type WorkloadOptions } from './prediction-workload';

export interface PredictionRow {
  provider: string;
  models: readonly string[];
  maxTokens: readonly number[];
  warmupRuns: number;
  quotedRuns: number;
  quoteInside: number;
  quoteWidthMedianPct: number;
  startErrorMedianPct: number;
  startErrorP90Pct: number;
  halfErrorMedianPct: number;
  halfErrorP90Pct: number;
  llmNodes: number;
  inputTokensMaxError: number;
  llmNodeCostInside: number;
  /** The quoted runs whose cost fell outside [p5, p95]: `runId: actual µ$ outside [p5, p95]`. */
  misses: string[];
}

const pct = (x: number) => Math.round(x * 1000) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.9) - 1)] ?? 0;

function projectionErrors(result: DeliveryRunResult): { start?: number; half?: number } {
  const actual = toMicros(result.costUsd);
  const total = Object.keys(result.nodes).length;
  const first = result.decisions[0];
  const mid = result.decisions.find((d) => (d.nodesDone ?? 0) >= total / 2);
  const error = (projected?: number) =>
    projected === undefined ? undefined : Math.abs(toMicros(projected) - actual) / actual;
  return { start: error(first?.runProjectedUsd), half: error(mid?.runProjectedUsd) };
}

/** Waits (up to 30 s) until the tenant's entity has charged `micros` in all: it has learned from every run that cost it. */
async function chargedUpTo(client: Client, tenantId: string, micros: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (toMicros((await tenantStatus(client, tenantId)).spentUsd) === micros) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${tenantId}: not all runs charged after 30 s`);
}

/** One provider's workload: warm-up runs, then quoted runs one after another, each compared with its quote. */
export async function measurePrediction(
  client: Client,
  tenantId: string,
  workload: Omit<WorkloadOptions, 'seed'> & { seed?: number },
): Promise<PredictionRow> {
  await configureTenant(client, tenantId, {
    budgetUsd: 100,
    maxConcurrentRuns: 20,
    learning: { intensity: 'CONSERVATIVE' },
  });
  const { warmup, quoted } = predictionWorkload(tenantId, { seed: 7, ...workload });
  // Each quote sees every run before it learned: the entity has charged all that the runs cost.
  let spentMicros = 0;
  const learned = async (results: DeliveryRunResult[]) => {
    spentMicros += results.reduce((sum, r) => sum + toMicros(r.costUsd), 0);
    await chargedUpTo(client, tenantId, spentMicros);
  };
  for (let i = 0; i < warmup.length; i += 5)
    await learned(
      await Promise.all(warmup.slice(i, i + 5).map(async (spec) => runOutcome(await startRun(client, spec)))),
    );
  let inside = 0;
  let nodeInside = 0;
  let inputMaxError = 0;
  const widths: number[] = [];
  const misses: string[] = [];
  const starts: number[] = [];
  const halves: number[] = [];
  for (const spec of quoted) {
    const q = await quote(client, spec);
    const handle = await startRun(client, spec);
    const result = await runOutcome(handle);
    if (result.status !== 'COMPLETED') throw new Error(`${spec.runId}: ${result.status}`);
    await learned([result]);
    const actual = toMicros(result.costUsd);
    if (actual >= toMicros(q.p5Usd) && actual <= toMicros(q.p95Usd)) inside++;
    else misses.push(`${spec.runId}: ${actual} outside [${toMicros(q.p5Usd)}, ${toMicros(q.p95Usd)}]`);
    widths.push((q.p95Usd - q.p5Usd) / q.p50Usd);
    const { start, half } = projectionErrors(result);
    if (start !== undefined) starts.push(start);
    if (half !== undefined) halves.push(half);
    const outcomes = await nodeOutcomesOf(handle);
    const generate = outcomes.get('generate')!;
    const counted = (outcomes.get('retrieve')!.output as { promptTokensByModel?: Record<string, number> })
      .promptTokensByModel?.[generate.model!];
    inputMaxError = Math.max(inputMaxError, Math.abs((counted ?? 0) - generate.pricing!.inputTokens));
    const nodeQuote = q.byNode.find((n) => n.nodeId === 'generate')!;
    if (generate.costMicros >= toMicros(nodeQuote.p5Usd) && generate.costMicros <= toMicros(nodeQuote.p95Usd))
      nodeInside++;
  }
  return {
    provider: workload.provider ?? 'offline',
    models: workload.models ?? [],
    maxTokens: workload.maxTokens ?? [],
    warmupRuns: warmup.length,
    quotedRuns: quoted.length,
    quoteInside: inside,
    quoteWidthMedianPct: pct(median(widths)),
    startErrorMedianPct: pct(median(starts)),
    startErrorP90Pct: pct(p90(starts)),
    halfErrorMedianPct: pct(median(halves)),
    halfErrorP90Pct: pct(p90(halves)),
    llmNodes: quoted.length,
    inputTokensMaxError: inputMaxError,
    llmNodeCostInside: nodeInside,
    misses,
  };
}

/** The workloads of the table: the offline provider over two models, and the local model. */
export function predictionWorkloads(quick: boolean) {
  return [
    {
      tenantId: 'predict-offline',
      workload: {
        warmup: 15,
        quoted: quick ? 20 : 40,
        provider: 'offline',
        models: ['gpt-4o-mini', 'gpt-4.1-mini'],
        maxTokens: [64, 128, 256, 512],
      },
    },
    {
      tenantId: 'predict-local',
      // Short answers: the local model writes 30–100 tokens/s on one thread.
      workload: {
        warmup: 15,
        quoted: quick ? 20 : 40,
        provider: 'local',
        models: [LOCAL_MODEL],
        maxTokens: [32, 64, 128],
      },
    },
  ];
}
