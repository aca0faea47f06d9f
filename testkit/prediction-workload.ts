/** A mixed RAG workload for measuring predictions. */
import { join } from 'node:path';
import fc from 'fast-check';

/**
 * A mixed RAG workload for measuring predictions: questions from a handful of words to a couple of
 * paragraphs, top_k 3–8, max_tokens 64–512, one or two candidates, several models. Generated with
 * fast-check from a seed, so a bench run and a test see the same runs.
 */

/**
 * What the runs retrieve from: the project's docs as they were on 2026-12-05, frozen in
 * bench/corpus so that the passages (and so the prompts' lengths, and on the offline provider the
 * answers' too) do not move each time docs/ is edited.
 */
export const PREDICTION_CORPUS = join(__dirname, '..', 'bench', 'corpus');

const TOPICS = [
  'admission',
  'budget',
  'tenant',
  'workflow',
  'history',
  'replay',
  'exporter',
  'partition',
  'priority',
  'degradation',
  'learning',
  'quote',
  'artifact',
  'schedule',
  'worker',
  'codec',
];
const FILLER =
  'please explain in detail how this works for a team running many delivery pipelines across several tenants with strict budgets and what happens when limits are reached'.split(
    ' ',
  );

export interface WorkloadRun {
  tenantId: string;
  runId: string;
  dag: { name: string; nodes: Array<Record<string, unknown>> };
}

export interface WorkloadOptions {
  warmup: number;
  quoted: number;
  seed: number;
  models?: readonly string[];
  /** The provider of the LLM nodes (the deployment's default when absent). */
  provider?: string;
  maxTokens?: readonly number[];
}

const runShape = (models: readonly string[], maxTokens: readonly number[]) =>
  fc.record({
    topic: fc.constantFrom(...TOPICS),
    fillerWords: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 20, max: 120 })),
    topK: fc.integer({ min: 3, max: 8 }),
    maxTokens: fc.constantFrom(...maxTokens),
    candidates: fc.integer({ min: 1, max: 2 }),
    model: fc.constantFrom(...models),
  });

export function predictionWorkload(
  tenantId: string,
  {
    warmup,
    quoted,
    seed,
    models = ['gpt-4o-mini', 'gpt-4.1-mini'],
    provider,
    maxTokens = [64, 128, 256, 512],
  }: WorkloadOptions,
): { warmup: WorkloadRun[]; quoted: WorkloadRun[] } {
  const shapes = fc.sample(runShape(models, maxTokens), { seed, numRuns: warmup + quoted });
  const runs = shapes.map((s, i): WorkloadRun => {
    const filler = Array.from({ length: s.fillerWords }, (_, j) => FILLER[(i + j) % FILLER.length]).join(' ');
    const question = `How does ADOS handle ${s.topic}? ${filler}`.trim();
    return {
      tenantId,
      runId: `${i < warmup ? 'warm' : 'quoted'}-${i}`,
      dag: {
        name: 'rag-mixed',
        nodes: [
          {
            id: 'retrieve',
            kind: 'retrieval.search',
            params: { query: question, top_k: s.topK, corpus: PREDICTION_CORPUS },
          },
          {
            id: 'generate',
            kind: 'llm.generate',
            deps: ['retrieve'],
            params: {
              model: s.model,
              max_tokens: s.maxTokens,
              num_candidates: s.candidates,
              ...(provider ? { provider } : {}),
            },
          },
        ],
      },
    };
  });
  return { warmup: runs.slice(0, warmup), quoted: runs.slice(warmup) };
}
