import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, quote, runOutcome, startRun } from '../../api/client';
import { predictionWorkload } from '../../bench/prediction-workload';
import { micros, useTestEnvWithWorkers } from '../helpers/temporal';
import { nodeOutcomesOf } from '../helpers/history';

const env = useTestEnvWithWorkers();

/**
 * Quotes against actuals on a generated mixed workload (questions of very different lengths,
 * top_k 3–8, max_tokens 64–512, two models) on the offline provider: after warm-up runs teach
 * the tenant's token model, each quoted run's actual cost is compared with its [p5, p95].
 */
describe('quotes on a mixed workload', () => {
  // The width bound holds what the token model reaches today (71.7% measured; 111% with the ratio model alone); the goal is 40%.
  test('at least 90% of actual costs fall inside [p5, p95], with a median width of at most 80% of p50', async () => {
    // No exploration: a model proven cheaper between a quote and its run would change what is measured.
    await configureTenant(env.client, 'predicts', {
      budgetUsd: 100,
      maxConcurrentRuns: 20,
      learning: { intensity: 'CONSERVATIVE' },
    });
    const { warmup, quoted } = predictionWorkload('predicts', { warmup: 15, quoted: 40, seed: 7 });
    // Warm-up in a few waves, so the token model learns from runs that finished.
    for (let i = 0; i < warmup.length; i += 5)
      await Promise.all(warmup.slice(i, i + 5).map(async (spec) => runOutcome(await startRun(env.client, spec))));
    let inside = 0;
    const widths: number[] = [];
    const errors: number[] = [];
    const misses: string[] = [];
    for (const spec of quoted) {
      const q = await quote(env.client, spec);
      const handle = await startRun(env.client, spec);
      const result = await runOutcome(handle);
      assert.equal(result.status, 'COMPLETED', JSON.stringify(result));
      // Each LLM node's input is known to the token before it runs: its retrieval counted the prompt on its model.
      const outcomes = await nodeOutcomesOf(handle);
      const model = outcomes.get('generate')!.model!;
      const counted = (outcomes.get('retrieve')!.output as { promptTokensByModel: Record<string, number> })
        .promptTokensByModel[model];
      assert.equal(counted, outcomes.get('generate')!.pricing!.inputTokens, `${spec.runId}: input tokens`);
      const actual = micros(result.costUsd);
      const [p5, p50, p95] = [micros(q.p5Usd), micros(q.p50Usd), micros(q.p95Usd)];
      if (actual >= p5 && actual <= p95) inside++;
      else misses.push(`${spec.runId}: ${actual} outside [${p5}, ${p95}]`);
      widths.push((p95 - p5) / p50);
      errors.push(Math.abs(actual - p50) / actual);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = `${inside}/${quoted.length} inside, median width ${(median(widths) * 100).toFixed(1)}% of p50, median error ${(median(errors) * 100).toFixed(1)}%; ${misses.join('; ')}`;
    process.stdout.write(`# quote coverage (offline): ${summary}\n`);
    assert.ok(inside / quoted.length >= 0.9, summary);
    assert.ok(median(widths) <= 0.8, summary);
  });
});
