/**
 * A generation prompt's tokens before any passage is added (the instruction and the question), per
 * retrieval node of a DAG: a run's launch and a quote carry them, so that the input cost of an LLM
 * node is known to the token before it runs.
 */
import { countTokens } from '../tokenizer';
import { ragPrompt } from './kind';

/** The o200k tokens of a generation prompt before any passage is added: the instruction and the question. */
export function promptBaseTokens(question: string): number {
  return countTokens(ragPrompt(question, []));
}

/** Per retrieval node of a DAG, the prompt's base tokens (a run's launch and a quote carry them). */
export function promptBasesOf(spec: {
  dag: { nodes: ReadonlyArray<{ id: string; kind: string; params: Record<string, unknown> }> };
}): Record<string, number> {
  const bases: Record<string, number> = {};
  for (const node of spec.dag.nodes)
    if (node.kind === 'retrieval.search' && typeof node.params.query === 'string')
      bases[node.id] = promptBaseTokens(node.params.query);
  return bases;
}
