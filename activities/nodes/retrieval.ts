/** retrieval.search: BM25 over a corpus of passages (by default the project docs). */
import { PROJECT_ROOT } from '../../infra/project';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import bm25 from 'wink-bm25-text-search';
import type nlpUtils from 'wink-nlp-utils';
import { UNIT_PRICES, toMicros } from '../../workflows/domain/pricing/catalog';
import { NodeInputError, numberParam, ragPrompt, stringParam, type NodeKind } from './kind';
import { countTokens } from '../tokenizer';
import { promptTokensOn } from './llm';
import { promptBaseTokens } from './prompt-tokens';
import { loadConfig } from '../../infra/config';

interface Passage {
  id: string;
  text: string;
}

interface CorpusIndex {
  search(query: string, limit: number): Array<[string, number]>;
  passages: Map<string, Passage>;
}

/** The project's own docs are the default corpus. */
export const DEFAULT_CORPUS_DIR = join(PROJECT_ROOT, 'docs');
const CORPUS_EXTENSIONS = new Set(['.md', '.txt']);
const indexes = new Map<string, CorpusIndex>();

/** BM25's text preparation; wink-nlp-utils loads on the first index built (it takes 0.3 s to load, which a node worker's start need not wait for). */
function prepare() {
  const nlp = require('wink-nlp-utils') as typeof nlpUtils;
  return [
    nlp.string.lowerCase,
    nlp.string.removeExtraSpaces,
    nlp.string.tokenize0,
    nlp.tokens.removeWords,
    nlp.tokens.stem,
  ];
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(path);
    return CORPUS_EXTENSIONS.has(extname(entry.name)) ? [path] : [];
  });
}

/** Paragraphs of every markdown/text file under dir; each passage is one BM25 document. */
export function loadPassages(dir: string): Passage[] {
  return listFiles(dir)
    .sort()
    .flatMap((file) =>
      readFileSync(file, 'utf8')
        .split(/\n\s*\n/)
        .map((text) => text.replace(/\s+/g, ' ').trim())
        .filter((text) => text.length >= 40 && !text.startsWith('```'))
        .map((text, i) => ({ id: `${relative(dir, file)}#${i}`, text: text.slice(0, 1200) })),
    );
}

function corpusIndex(dir: string): CorpusIndex {
  const cached = indexes.get(dir);
  if (cached) return cached;
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new NodeInputError(`corpus folder ${dir} does not exist`);
  const passages = loadPassages(dir);
  // wink's BM25 needs a few documents before it can consolidate an index.
  if (passages.length < 3)
    throw new NodeInputError(`corpus folder ${dir} has ${passages.length} passages; BM25 needs at least 3`);
  const engine = bm25();
  engine.defineConfig({ fldWeights: { text: 1 } });
  engine.definePrepTasks(prepare());
  for (const passage of passages) engine.addDoc({ text: passage.text }, passage.id);
  engine.consolidate();
  const index: CorpusIndex = {
    search: (q, limit) => engine.search(q, limit),
    passages: new Map(passages.map((p) => [p.id, p])),
  };
  indexes.set(dir, index);
  return index;
}

export const retrievalSearch: NodeKind = {
  kind: 'retrieval.search',
  category: 'retrieval',
  async execute(task) {
    const query = stringParam(task, 'query', '');
    if (!query) throw new NodeInputError(`node ${task.nodeId} (retrieval.search) needs params.query`);
    const topK = numberParam(task, 'top_k', 5, { min: 1, max: 50 });
    const dir = resolve(stringParam(task, 'corpus', loadConfig().ADOS_CORPUS_DIR ?? DEFAULT_CORPUS_DIR));
    const index = corpusIndex(dir);
    const hits = index
      .search(query, topK)
      .map(([id, score]) => ({ id, score: Math.round(score * 1e4) / 1e4, text: index.passages.get(id)!.text }));
    // The prompt an llm.generate node builds from these passages and this query: its o200k tokens,
    // and its input tokens on each model the run's generation nodes fed by this one use.
    const prompt = ragPrompt(
      query,
      hits.map((h) => h.text),
    );
    const promptTokens = countTokens(prompt);
    const byModel: Record<string, number> = {};
    for (const model of task.promptModels ?? []) byModel[model] = await promptTokensOn(model, prompt, promptTokens);
    return {
      output: {
        query,
        passages: hits,
        promptTokens,
        baseTokens: promptBaseTokens(query),
        ...(task.promptModels ? { promptTokensByModel: byModel } : {}),
      },
      costMicros: toMicros((index.passages.size / 1000) * UNIT_PRICES.retrievalPer1kDocs),
    };
  },
};
