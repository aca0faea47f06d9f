/**
 * Predictions, measured on a generated mixed workload (testkit/prediction-workload.ts), on the
 * offline provider and on the real local model:
 *
 * - quotes: how many actual run costs fell inside their quote's [p5, p95], and the median width
 *   of that interval as a share of p50;
 * - the run projection (the CostAgent's projected total, from the run's own decisions) at its start
 *   and at half-way: median and p90 of |projected − actual| / actual;
 * - each LLM node: its input tokens as counted before it ran against the tokens charged (must be
 *   0 apart), and whether its cost fell inside its quoted [p5, p95].
 *
 * Usage: node --import tsx bench/prediction.ts [--quick] (writes bench/results/prediction.json and
 * includes the table in README.md and docs/PERFORMANCE.md between the prediction markers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalModel } from '../infra/llm/local-model';
import { LocalLlm } from '../activities/nodes/local-llm';
import { measurePrediction, predictionWorkloads, type PredictionRow } from '../testkit/prediction';
import { runBench, withBenchEnv, writeReport } from './harness';

export function predictionTable(rows: readonly PredictionRow[]): string {
  return [
    '| provider | quoted runs inside [p5, p95] | median width (% of p50) | projection error at start (median / p90) | at half-way (median / p90) | LLM input tokens, counted before − charged (max) | LLM node cost inside its quoted [p5, p95] |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.provider} (${r.models.join(', ')}; max_tokens ${r.maxTokens.join('–')}) | ${r.quoteInside} / ${r.quotedRuns} | ${r.quoteWidthMedianPct}% | ${r.startErrorMedianPct}% / ${r.startErrorP90Pct}% | ${r.halfErrorMedianPct}% / ${r.halfErrorP90Pct}% | ${r.inputTokensMaxError} | ${r.llmNodeCostInside} / ${r.llmNodes} |`,
    ),
  ].join('\n');
}

/** Puts the table between the prediction markers of README.md and docs/PERFORMANCE.md. */
export function includePredictionTable(table: string): void {
  for (const file of [join(__dirname, '..', 'README.md'), join(__dirname, '..', 'docs', 'PERFORMANCE.md')]) {
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf('<!-- prediction:start -->');
    const end = text.indexOf('<!-- prediction:end -->');
    if (start < 0 || end < start) continue;
    writeFileSync(file, `${text.slice(0, start)}<!-- prediction:start -->\n${table}\n${text.slice(end)}`);
  }
}

if (require.main === module)
  runBench(async () => {
    const quick = process.argv.includes('--quick');
    ensureLocalModel();
    const started = Date.now();
    const rows = await withBenchEnv({}, async (client) => {
      const measured: PredictionRow[] = [];
      for (const { tenantId, workload } of predictionWorkloads(quick)) {
        process.stderr.write(`prediction: ${workload.provider} …\n`);
        measured.push(await measurePrediction(client, tenantId, workload));
      }
      return measured;
    });
    await LocalLlm.unload();
    writeReport(`prediction${quick ? '-quick' : ''}`, {
      quick,
      rows,
      elapsedMs: Date.now() - started,
      at: new Date().toISOString(),
    });
    const table = predictionTable(rows);
    process.stdout.write(`\n${table}\n`);
    if (!quick) includePredictionTable(table);
  });
