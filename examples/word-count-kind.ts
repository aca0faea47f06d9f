/**
 * A custom node kind: counts the words of its upstream answer candidates (or of params.text).
 * Register it before the workers start; see docs/NODE_KINDS.md.
 */
import { toMicros } from '../workflows/domain/pricing/catalog';
import { NodeInputError, upstreamCandidates, type NodeKind } from '../activities/nodes/kind';

export const wordCount: NodeKind = {
  kind: 'example.word_count',
  category: 'compute',
  async execute(task) {
    const texts = typeof task.params.text === 'string' ? [task.params.text] : upstreamCandidates(task);
    if (texts.length === 0)
      throw new NodeInputError(`node ${task.nodeId} (example.word_count) needs params.text or upstream candidates`);
    const words = texts.map((t) => t.split(/\s+/).filter(Boolean).length);
    // A made-up price: a tenth of a cent per thousand words.
    return { output: { words }, costMicros: toMicros((words.reduce((a, b) => a + b, 0) / 1000) * 0.001) };
  },
};
