/**
 * Learning, measured: projection accuracy cold and warm, and what learning costs and saves.
 *
 * Projection accuracy is |projected − actual| / actual for a run's total, read from the run's own
 * CostAgent decisions: the first decision (start) and the first one made with at least half the
 * nodes done (half-way). Cold = the first run of fresh tenants (catalog prices only); warm = runs
 * after a tenant has completed 50 runs of the same DAG shapes.
 *
 * Usage: node --import tsx bench/learning.ts [--quick]
 */
import { Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../api/client';
import type { DeliveryRunInput } from '../workflows/domain/run/dag';
import type { DeliveryRunResult } from '../workflows/domain/run/run-result';
import { runBench, withBenchEnv, writeReport } from './harness';
import { percentile } from './stats';

const WARMUP_RUNS = 50;
const CONCURRENCY = 5;

const QUERIES = [
  'How is cost counted exactly once?',
  'What happens when a tenant exceeds its budget?',
  'How does admission decide which run starts next?',
  'What does a DEGRADE plan change?',
  'Where are run artifacts written?',
  'How does the export sweep release slots?',
  'What is a budget lease?',
  'How are node kinds registered?',
];

/** Two repeated DAG shapes: a RAG pipeline with reranking, and a short answer-and-check one. */
function dag(i: number): DeliveryRunInput['dag'] {
  const query = QUERIES[i % QUERIES.length]!;
  if (i % 2 === 0) {
    return {
      name: 'rag-rerank',
      nodes: [
        { id: 'retrieve', kind: 'retrieval.search', params: { query, top_k: 6 } },
        {
          id: 'generate',
          kind: 'llm.generate',
          deps: ['retrieve'],
          params: { model: 'gpt-4o', num_candidates: 2, max_tokens: 200 },
        },
        { id: 'rerank', kind: 'rerank', deps: ['generate'] },
        { id: 'evaluate', kind: 'eval.score', deps: ['rerank'] },
      ],
    } as DeliveryRunInput['dag'];
  }
  return {
    name: 'answer-check',
    nodes: [
      { id: 'retrieve', kind: 'retrieval.search', params: { query, top_k: 3 } },
      { id: 'draft', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4.1-mini', max_tokens: 120 } },
      { id: 'evaluate', kind: 'eval.score', deps: ['draft'] },
    ],
  } as DeliveryRunInput['dag'];
}

interface Accuracy {
  runs: number;
  startMeanPct: number;
  startP90Pct: number;
  halfMeanPct: number;
  halfP90Pct: number;
}

function accuracy(results: DeliveryRunResult[]): Accuracy {
  const start: number[] = [];
  const half: number[] = [];
  for (const r of results) {
    if (r.status !== 'COMPLETED' || r.costUsd === 0) continue;
    const total = Object.keys(r.nodes).length;
    const first = r.decisions[0];
    const mid = r.decisions.find((d) => (d.nodesDone ?? 0) >= total / 2);
    if (first?.runProjectedUsd !== undefined) start.push(Math.abs(first.runProjectedUsd - r.costUsd) / r.costUsd);
    if (mid?.runProjectedUsd !== undefined) half.push(Math.abs(mid.runProjectedUsd - r.costUsd) / r.costUsd);
  }
  const mean = (xs: number[]) => round((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) * 100);
  const p90 = (xs: number[]) => round(percentile(xs, 90) * 100);
  return {
    runs: start.length,
    startMeanPct: mean(start),
    startP90Pct: p90(start),
    halfMeanPct: mean(half),
    halfP90Pct: p90(half),
  };
}

function round(x: number, digits = 2): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

export async function runBatch(
  client: Client,
  tenantId: string,
  from: number,
  count: number,
): Promise<DeliveryRunResult[]> {
  const results: DeliveryRunResult[] = [];
  for (let i = from; i < from + count; i += CONCURRENCY) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, from + count - i) }, (_, j) =>
        startRun(client, { tenantId, runId: `r-${i + j}`, dag: dag(i + j) }),
      ),
    );
    results.push(...(await Promise.all(batch.map(runOutcome))));
  }
  return results;
}

/**
 * Projection accuracy (cold, warm) and an AGGRESSIVE learner, on a server the caller provides.
 * Tenant ids are prefixed so that the suite can run it beside other scenarios.
 */
export async function measureLearning(client: Client, { quick, prefix = '' }: { quick: boolean; prefix?: string }) {
  const MEASURED_RUNS = quick ? 10 : 30;
  const COLD_TENANTS = quick ? 3 : 10;
  const LEARNER_RUNS = quick ? 20 : 60;
  const t = (id: string) => `${prefix}${id}`;
  // Cold: each tenant's very first run, priced by the catalog alone.
  const cold: DeliveryRunResult[] = [];
  for (let i = 0; i < COLD_TENANTS; i++) {
    await configureTenant(client, t(`cold-${i}`), { budgetUsd: 100, learning: { intensity: 'CONSERVATIVE' } });
    cold.push(...(await runBatch(client, t(`cold-${i}`), i, 1)));
  }

  // Warm: one tenant, 50 runs of the same shapes, then the measured runs.
  await configureTenant(client, t('warm'), {
    budgetUsd: 100,
    maxConcurrentRuns: 20,
    learning: { intensity: 'CONSERVATIVE' },
  });
  const warmup = await runBatch(client, t('warm'), 0, WARMUP_RUNS);
  const warm = await runBatch(client, t('warm'), WARMUP_RUNS, MEASURED_RUNS);

  // An AGGRESSIVE learner on the same workload: what its learning costs, and what it saves.
  await configureTenant(client, t('learner'), {
    budgetUsd: 2,
    maxConcurrentRuns: 20,
    learning: { intensity: 'AGGRESSIVE' },
  });
  const learner = await runBatch(client, t('learner'), 0, LEARNER_RUNS);
  let status = await tenantStatus(client, t('learner'));
  for (let i = 0; i < 100 && status.learning.learningReservedUsd > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = await tenantStatus(client, t('learner'));
  }
  const adoptedAt = status.learning.history.find((e) => e.type === 'preference' && e.adopted);
  const firstSwitched = learner.findIndex((r) => (r.learning?.choices.length ?? 0) > 0);
  const meanCost = (rs: DeliveryRunResult[]) =>
    rs.length ? round(rs.reduce((s, r) => s + r.costUsd, 0) / rs.length, 6) : 0;
  const rag = (rs: DeliveryRunResult[]) => rs.filter((r) => 'generate' in r.nodes);

  const report = {
    quick,
    projection: {
      cold: accuracy(cold),
      warmupRuns: WARMUP_RUNS,
      warm: accuracy(warm),
      warmupItself: accuracy(warmup),
    },
    learner: {
      intensity: 'AGGRESSIVE',
      runs: LEARNER_RUNS,
      budgetUsd: status.budgetUsd,
      learningBudgetUsd: status.learning.learningBudgetUsd,
      learningSpentUsd: status.learning.learningSpentUsd,
      learningSharePct: round((status.learning.learningSpentUsd / status.budgetUsd) * 100, 3),
      shadows: status.learning.history.filter((e) => e.type === 'exploration').length,
      preferences: status.learning.preferences.map((p) => ({
        kind: p.kind,
        from: p.fromModel,
        to: p.toModel,
        evidence: p.evidence,
      })),
      preferenceAdoptedAtSeq: adoptedAt?.seq,
      firstRunOnLearnedModel: firstSwitched >= 0 ? firstSwitched : undefined,
      meanRagRunCostBeforeUsd: meanCost(rag(firstSwitched >= 0 ? learner.slice(0, firstSwitched) : learner)),
      meanRagRunCostAfterUsd:
        firstSwitched >= 0
          ? meanCost(rag(learner.slice(firstSwitched).filter((r) => r.learning?.choices.length)))
          : undefined,
    },
  };
  return report;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const noop = () => undefined;
  Runtime.install({ logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } });
  const started = Date.now();
  await withBenchEnv({}, async (client) => {
    const report = {
      ...(await measureLearning(client, { quick })),
      elapsedMs: Date.now() - started,
      machine: `${process.platform} ${process.arch}, node ${process.version}`,
      at: new Date().toISOString(),
    };
    writeReport(`learning${quick ? '-quick' : ''}`, report);
    const p = report.projection;
    process.stdout.write(
      [
        '',
        '| projection error, |projected − actual| / actual | at start (mean / p90) | at half-way (mean / p90) |',
        '|---|---|---|',
        `| cold (catalog only, ${p.cold.runs} runs) | ${p.cold.startMeanPct}% / ${p.cold.startP90Pct}% | ${p.cold.halfMeanPct}% / ${p.cold.halfP90Pct}% |`,
        `| warm (after ${WARMUP_RUNS} runs, ${p.warm.runs} runs) | ${p.warm.startMeanPct}% / ${p.warm.startP90Pct}% | ${p.warm.halfMeanPct}% / ${p.warm.halfP90Pct}% |`,
        '',
      ].join('\n'),
    );
  });
}

if (require.main === module) runBench(main);
