/** Quality nodes: token F1 and ROUGE-L scoring, rerank and eval.score. */
import { UNIT_PRICES, formatUsd, toMicros } from '../../workflows/domain/pricing/catalog';
import { countTokens, words } from '../tokenizer';
import { NodeInputError, numberParam, stringParam, upstreamCandidates, upstreamPassages, type NodeKind } from './kind';

/** Token-level F1 between a candidate and a reference (SQuAD style). */
export function tokenF1(candidate: string, reference: string): number {
  const c = words(candidate);
  const r = words(reference);
  if (c.length === 0 || r.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const w of r) counts.set(w, (counts.get(w) ?? 0) + 1);
  let overlap = 0;
  for (const w of c) {
    const n = counts.get(w) ?? 0;
    if (n > 0) {
      overlap++;
      counts.set(w, n - 1);
    }
  }
  if (overlap === 0) return 0;
  const precision = overlap / c.length;
  const recall = overlap / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** ROUGE-L F-measure: longest common subsequence of word tokens. */
export function rougeL(candidate: string, reference: string): number {
  const c = words(candidate);
  const r = words(reference);
  if (c.length === 0 || r.length === 0) return 0;
  let prev = new Array<number>(r.length + 1).fill(0);
  for (let i = 1; i <= c.length; i++) {
    const row = new Array<number>(r.length + 1).fill(0);
    for (let j = 1; j <= r.length; j++)
      row[j] = c[i - 1] === r[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    prev = row;
  }
  const lcs = prev[r.length]!;
  if (lcs === 0) return 0;
  const precision = lcs / c.length;
  const recall = lcs / r.length;
  return (2 * precision * recall) / (precision + recall);
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Orders upstream candidates by their overlap with the retrieved passages (or params.reference). */
export const rerank: NodeKind = {
  kind: 'rerank',
  category: 'rerank',
  async execute(task) {
    const candidates = upstreamCandidates(task);
    if (candidates.length === 0)
      throw new NodeInputError(`node ${task.nodeId} (rerank) needs a dependency that produced candidates`);
    const passages = upstreamPassages(task);
    const evidence = stringParam(task, 'reference', passages.map((p) => p.text).join(' ') || candidates.join(' '));
    const enabled = task.params.rerank !== false;
    const scored = candidates.map((text) => ({ text, score: enabled ? round4(tokenF1(text, evidence)) : 0 }));
    if (enabled) scored.sort((a, b) => b.score - a.score);
    const topN = numberParam(task, 'top_n', scored.length, { min: 1, max: 100 });
    const tokens = candidates.reduce((sum, c) => sum + countTokens(c), 0);
    return {
      output: {
        ranked: scored.slice(0, topN).map((s) => s.text),
        scores: scored.slice(0, topN).map((s) => s.score),
        reranked: enabled,
        passages,
      },
      costMicros: enabled ? toMicros((tokens / 1000) * UNIT_PRICES.rerankPer1kTokens) : 0,
    };
  },
};

/** Scores the best upstream answer against params.reference: token F1 and ROUGE-L. */
export const evalScore: NodeKind = {
  kind: 'eval.score',
  category: 'evaluation',
  async execute(task) {
    const candidates = upstreamCandidates(task);
    const answer = candidates[0] ?? stringParam(task, 'answer', '');
    if (!answer)
      throw new NodeInputError(
        `node ${task.nodeId} (eval.score) needs params.answer or a dependency that produced candidates`,
      );
    const reference = stringParam(
      task,
      'reference',
      upstreamPassages(task)
        .map((p) => p.text)
        .join(' '),
    );
    if (!reference) throw new NodeInputError(`node ${task.nodeId} (eval.score) needs params.reference`);
    const tokens = countTokens(answer) + countTokens(reference);
    const costMicros = toMicros((tokens / 1000) * UNIT_PRICES.evaluationPer1kTokens);
    // With max_cost_usd the evaluation is priced before it runs, and refused if it would cost more.
    if (
      task.params.max_cost_usd !== undefined &&
      costMicros > toMicros(numberParam(task, 'max_cost_usd', 0, { min: 0, max: 1e6 }))
    ) {
      throw new NodeInputError(
        `node ${task.nodeId} (eval.score) would cost ${formatUsd(costMicros)}, above its max_cost_usd`,
      );
    }
    const f1 = round4(tokenF1(answer, reference));
    const rouge = round4(rougeL(answer, reference));
    const threshold = numberParam(task, 'threshold', 0, { min: 0, max: 1 });
    return {
      output: { f1, rougeL: rouge, passed: f1 >= threshold, threshold },
      costMicros,
    };
  },
};
