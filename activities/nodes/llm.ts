/** LLM providers behind llm.generate: offline (deterministic), OpenAI-compatible HTTP, and the local model. */
import { DEFAULT_MODEL, toMicros, usd } from '../../workflows/domain/pricing/catalog';
import { UnknownModelPrice, outputMicrosPerToken, priceLlmUsage } from '../pricing';
import type { NodeTask } from '../../workflows/ports/activities';
import { countTokens, truncateToTokens } from '../tokenizer';
import { promptBaseTokens, promptBasesOf } from './prompt-tokens';
import {
  NodeInputError,
  numberParam,
  ragPrompt,
  stringParam,
  upstreamPassages,
  type NodeContext,
  type NodeKind,
} from './kind';
import { loadConfig } from '../../infra/config';
import { LOCAL_MODEL, LocalModelMissing } from '../../infra/llm/local-model';
import { LocalContextExceeded, LocalLlm } from './local-llm';

export { promptBaseTokens, promptBasesOf };

export interface CompletionRequest {
  model: string;
  prompt: string;
  candidates: number;
  maxTokens: number;
  signal: AbortSignal;
}

export interface Completion {
  candidates: string[];
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from the provider's prompt cache, when it reports them. */
  cachedInputTokens?: number;
}

/** Where `llm.generate` gets its text from. */
export interface LlmProvider {
  name: string;
  complete(request: CompletionRequest): Promise<Completion>;
}

/** A sentence ends at . ! or ?, and a table row where the next begins (`| … | | … |` once flattened). */
const SENTENCE_END = /(?<=[.!?])\s+|(?<=\|)\s+(?=\|)/;
/** Longer than this, a "sentence" (a list run together, a table header) is quoted clause by clause. */
const LONG_SENTENCE_TOKENS = 60;

/** A long sentence as clauses (split after , and ;), joined back while they stay short. */
function clauses(sentence: string): string[] {
  if (countTokens(sentence) <= LONG_SENTENCE_TOKENS) return [sentence];
  const out: string[] = [];
  let current = '';
  for (const part of sentence.split(/(?<=[,;])\s+/)) {
    const joined = current ? `${current} ${part}` : part;
    if (current && countTokens(joined) > LONG_SENTENCE_TOKENS) {
      out.push(current);
      current = part;
    } else current = joined;
  }
  if (current) out.push(current);
  return out;
}

/**
 * Deterministic and free of the network: answers by quoting the retrieved passages sentence by
 * sentence (a table row by row, a long list clause by clause) and stops before the first that does
 * not fit in max_tokens, or when it has quoted them all, and counts tokens with the model family's
 * real tokenizer, so costs are realistic. Like the local model, it mostly writes close to max_tokens
 * and sometimes ends well before.
 */
export const offlineProvider: LlmProvider = {
  name: 'offline',
  async complete({ prompt, candidates, maxTokens }) {
    const sentences = prompt
      .split('\n')
      .filter((line) => line.startsWith('[passage]'))
      .flatMap((line) => line.slice('[passage]'.length).split(SENTENCE_END))
      .flatMap(clauses)
      .map((s) => s.trim())
      .filter((s) => s.length > 20);
    const question =
      prompt
        .split('\n')
        .find((line) => line.startsWith('Question:'))
        ?.slice('Question:'.length)
        .trim() ?? '';
    const answers: string[] = [];
    for (let i = 0; i < candidates; i++) {
      const picked: string[] = [];
      let tokens = 0;
      // Whole sentences while they fit in maxTokens, like a model that stops at its token limit.
      for (let j = 0; j < sentences.length; j++) {
        const sentence = sentences[(i + j) % sentences.length]!;
        const t = countTokens(sentence) + (picked.length > 0 ? 1 : 0);
        if (tokens + t > maxTokens) break;
        tokens += t;
        picked.push(sentence);
      }
      const answer =
        picked.length > 0
          ? picked.join(' ')
          : sentences.length > 0
            ? sentences[i % sentences.length]!
            : `No passages were retrieved for: ${question}`;
      answers.push(truncateToTokens(answer, maxTokens));
    }
    return {
      candidates: answers,
      inputTokens: countTokens(prompt),
      outputTokens: answers.reduce((sum, a) => sum + countTokens(a), 0),
    };
  },
};

/** Any OpenAI-compatible chat completions endpoint (OPENAI_BASE_URL, OPENAI_API_KEY); cost from its usage. */
export const openaiProvider: LlmProvider = {
  name: 'openai',
  async complete({ model, prompt, candidates, maxTokens, signal }) {
    const { OPENAI_BASE_URL, OPENAI_API_KEY: apiKey } = loadConfig();
    const baseUrl = OPENAI_BASE_URL.replace(/\/+$/, '');
    if (!apiKey) throw new NodeInputError('the openai provider needs OPENAI_API_KEY');
    const response = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        model,
        n: candidates,
        max_tokens: maxTokens,
        messages: [{ role: 'user', content: prompt }],
      }),
      signal,
    });
    if (!response.ok) {
      const body = (await response.text()).slice(0, 500);
      const error = new Error(`openai endpoint answered ${response.status}: ${body}`);
      // Client errors other than rate limits will fail the same way on every retry.
      if (response.status >= 400 && response.status < 500 && response.status !== 429)
        throw new NodeInputError(error.message);
      throw error;
    }
    const body = (await response.json()) as {
      choices?: Array<{ message?: { content?: string } }>;
      usage?: {
        prompt_tokens?: number;
        completion_tokens?: number;
        prompt_tokens_details?: { cached_tokens?: number };
      };
    };
    const texts = (body.choices ?? []).map((c) => c.message?.content ?? '');
    if (texts.length === 0) throw new Error('openai endpoint returned no choices');
    return {
      candidates: texts,
      inputTokens: body.usage?.prompt_tokens ?? countTokens(prompt),
      outputTokens: body.usage?.completion_tokens ?? texts.reduce((sum, t) => sum + countTokens(t), 0),
      ...(body.usage?.prompt_tokens_details?.cached_tokens
        ? { cachedInputTokens: body.usage.prompt_tokens_details.cached_tokens }
        : {}),
    };
  },
};

/** The real small model on this machine's CPU (activities/nodes/local-llm.ts); it serves LOCAL_MODEL only. */
export const localProvider: LlmProvider = {
  name: 'local',
  async complete({ model, prompt, candidates, maxTokens, signal }) {
    if (model !== LOCAL_MODEL)
      throw new NodeInputError(
        `the local provider runs ${LOCAL_MODEL} only, not ${model}: name it as the node's model`,
      );
    const llm = await localModel();
    try {
      const answer = await llm.generate(prompt, maxTokens, candidates, signal);
      return { candidates: answer.texts, inputTokens: answer.inputTokens, outputTokens: answer.outputTokens };
    } catch (err) {
      if (err instanceof LocalContextExceeded) throw new NodeInputError(err.message);
      throw err;
    }
  },
};

/** The process's local model; a missing model file fails the node with the command that installs it. */
async function localModel(): Promise<LocalLlm> {
  try {
    return await LocalLlm.get();
  } catch (err) {
    if (err instanceof LocalModelMissing) throw new NodeInputError(err.message);
    throw err;
  }
}

/**
 * The input tokens a prompt costs on a model, as its charge will count them: the local model's own
 * tokenizer and chat format (in this process, or behind `ados llm serve`), else o200k (`o200k`, when
 * the caller has counted it already), which is what the offline provider reports (an OpenAI
 * endpoint adds its few tokens of chat framing).
 */
export async function promptTokensOn(model: string, prompt: string, o200k?: number): Promise<number> {
  if (model !== LOCAL_MODEL) return o200k ?? countTokens(prompt);
  return (await localModel()).promptTokens(prompt);
}

const providers = new Map<string, LlmProvider>(
  [offlineProvider, localProvider, openaiProvider].map((p) => [p.name, p]),
);

export function registerLlmProvider(provider: LlmProvider): void {
  providers.set(provider.name, provider);
}

function buildPrompt(task: NodeTask): string {
  const question = stringParam(task, 'prompt', stringParam(task, 'query', upstreamQuery(task) ?? ''));
  if (!question)
    throw new NodeInputError(
      `node ${task.nodeId} (llm.generate) needs params.prompt or a retrieval dependency with a query`,
    );
  return ragPrompt(
    question,
    upstreamPassages(task).map((p) => p.text),
  );
}

function upstreamQuery(task: NodeTask): string | undefined {
  for (const output of Object.values(task.upstream)) {
    const query = (output as { query?: unknown } | null)?.query;
    if (typeof query === 'string') return query;
  }
  return undefined;
}

/**
 * With `max_cost_usd`, the call can never cost more: the prompt is priced first, and the output
 * tokens per candidate are capped to what the rest of the money buys (the way shadow exploration
 * keeps within its learning grant). A prompt that alone costs too much is refused before the call.
 */
function capTokensToCost(
  task: NodeTask,
  model: string,
  inputTokens: number,
  candidates: number,
  maxTokens: number,
): number {
  if (task.params.max_cost_usd === undefined) return maxTokens;
  const capMicros = toMicros(numberParam(task, 'max_cost_usd', 0, { min: 0, max: 1e6 }));
  // One micro-dollar of slack for rounding.
  const leftMicros = capMicros - priceLlmUsage(model, { inputTokens, outputTokens: 0 }, task.negotiatedRate).micros - 1;
  const perTokenMicros = outputMicrosPerToken(model, task.negotiatedRate);
  const affordable = Math.floor(leftMicros / perTokenMicros / candidates);
  if (affordable < 1)
    throw new NodeInputError(
      `node ${task.nodeId} (llm.generate): max_cost_usd ${usd(capMicros)} does not cover the prompt (${inputTokens} tokens on ${model})`,
    );
  return Math.min(maxTokens, affordable);
}

export const llmGenerate: NodeKind = {
  kind: 'llm.generate',
  category: 'llm',
  async execute(task, ctx: NodeContext) {
    const model = task.model ?? stringParam(task, 'model', DEFAULT_MODEL);
    // A model without a price (listed or negotiated) cannot be charged: refuse it before calling anyone.
    try {
      priceLlmUsage(model, { inputTokens: 0, outputTokens: 0 }, task.negotiatedRate);
    } catch (err) {
      if (err instanceof UnknownModelPrice) throw new NodeInputError(err.message);
      throw err;
    }
    // The local model is run by the local provider unless the node names another (`ados llm serve` through `openai`).
    const providerName = stringParam(
      task,
      'provider',
      model === LOCAL_MODEL ? 'local' : loadConfig().ADOS_LLM_PROVIDER,
    );
    const provider = providers.get(providerName);
    if (!provider)
      throw new NodeInputError(`unknown llm provider ${providerName} (known: ${[...providers.keys()].join(', ')})`);
    const prompt = buildPrompt(task);
    const candidates = numberParam(task, 'num_candidates', 1, { min: 1, max: 8 });
    const promptTokens = countTokens(prompt);
    const maxTokens = capTokensToCost(
      task,
      model,
      promptTokens,
      candidates,
      numberParam(task, 'max_tokens', 256, { min: 1, max: 8192 }),
    );
    const completion = await provider.complete({ model, prompt, candidates, maxTokens, signal: ctx.signal });
    const { micros, pricing } = priceLlmUsage(
      model,
      {
        inputTokens: completion.inputTokens,
        outputTokens: completion.outputTokens,
        ...(completion.cachedInputTokens ? { cachedInputTokens: completion.cachedInputTokens } : {}),
      },
      task.negotiatedRate,
    );
    return {
      // Passages travel on so that rerank and eval downstream can judge against the evidence.
      output: {
        model,
        provider: provider.name,
        candidates: completion.candidates,
        inputTokens: completion.inputTokens,
        outputTokens: completion.outputTokens,
        // The prompt's o200k tokens: what the tenant's token model relates this model's input tokens to.
        promptTokens,
        passages: upstreamPassages(task),
      },
      costMicros: micros,
      model,
      pricing,
    };
  },
};
