/** The local model (SmolLM2-135M) run in this process by node-llama-cpp. */
import { createHash } from 'node:crypto';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { loadConfig } from '../../infra/config';
import { requireLocalModel } from '../../infra/llm/local-model';

/**
 * The real small model, run in this process on the CPU with node-llama-cpp's prebuilt linux-x64
 * binary (never built, never on a GPU) with ADOS_LLM_THREADS threads. Loaded once per process, on
 * first use. Generations share one context of a few sequences, so concurrent nodes are batched
 * together instead of queueing; more wait for a free sequence.
 *
 * Usage is the model's own: input tokens are the chat-formatted prompt as its tokenizer splits it,
 * output tokens what it generated, its end-of-turn token included; the prompt is read (and
 * counted) once however many candidates are asked for. Sampling is seeded from the
 * prompt and the candidate's index, so a retried node gives the same answer and the same bill.
 */

/** Sequences of the shared context: generations running at once. */
const SEQUENCES = 4;
/** Tokens each sequence holds: the prompt plus the answer. */
export const LOCAL_CONTEXT_TOKENS = 4096;
const SYSTEM = 'You are a concise assistant. Answer from the passages given.';

export interface LocalGeneration {
  texts: string[];
  /** The chat-formatted prompt's tokens, read once for all the answers. */
  inputTokens: number;
  /** Every answer's tokens, end-of-turn tokens included. */
  outputTokens: number;
  /** Per answer: it ended by itself (false: cut at max_tokens). */
  finished: boolean[];
}

export class LocalLlm {
  private static loading: Promise<LocalLlm> | undefined;
  /** The context's sequences not in use; a generation takes one and gives it back cleared. */
  private readonly idle: LlamaContextSequence[];
  private readonly waiters: Array<(sequence: LlamaContextSequence) => void> = [];

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
  ) {
    this.idle = Array.from({ length: SEQUENCES }, () => context.getSequence());
  }

  /** The process's model, loaded on first use; a missing model file fails with the command that installs it. */
  static get(): Promise<LocalLlm> {
    LocalLlm.loading ??= LocalLlm.load().catch((err: unknown) => {
      LocalLlm.loading = undefined;
      throw err;
    });
    return LocalLlm.loading;
  }

  private static async load(): Promise<LocalLlm> {
    const modelPath = requireLocalModel();
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const threads = loadConfig().ADOS_LLM_THREADS;
    const model = await llama.loadModel({ modelPath, defaultContextFlashAttention: false });
    const context = await model.createContext({
      sequences: SEQUENCES,
      contextSize: LOCAL_CONTEXT_TOKENS,
      threads,
      batchSize: 512,
    });
    return new LocalLlm(llama, model, context);
  }

  /** The prompt as the model reads it (its chat format). */
  private chat(prompt: string): string {
    return `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`;
  }

  /** The input tokens a prompt costs on this model: exactly what `generate` reports. */
  promptTokens(prompt: string): number {
    return this.tokens(prompt).length;
  }

  private tokens(prompt: string): Token[] {
    return this.model.tokenize(this.chat(prompt), true);
  }

  /**
   * `candidates` answers of at most `maxTokens` tokens each. The prompt is read once: after each
   * answer its tokens are erased from the sequence and the next is sampled with another seed from
   * the same state, so its input tokens are counted once, as OpenAI's `n` does.
   */
  async generate(
    prompt: string,
    maxTokens: number,
    candidates: number,
    signal?: AbortSignal,
  ): Promise<LocalGeneration> {
    const input = this.tokens(prompt);
    if (input.length + maxTokens > LOCAL_CONTEXT_TOKENS)
      throw new LocalContextExceeded(
        `the prompt (${input.length} tokens) and max_tokens ${maxTokens} do not fit the local model's context of ${LOCAL_CONTEXT_TOKENS} tokens`,
      );
    const sequence = await this.acquire();
    try {
      const texts: string[] = [];
      const finished: boolean[] = [];
      let outputTokens = 0;
      for (let i = 0; i < candidates; i++) {
        let feed = input;
        if (i > 0) {
          // Back to the state before the prompt's last token, which is fed again to sample the next answer.
          await sequence.eraseContextTokenRanges([{ start: input.length - 1, end: sequence.nextTokenIndex }]);
          feed = input.slice(-1);
        }
        const generated: Token[] = [];
        const seed = createHash('sha256').update(prompt).update(String(i)).digest().readUInt32BE(0);
        for await (const token of sequence.evaluate(feed, { temperature: 0.7, topK: 40, topP: 0.9, seed })) {
          generated.push(token);
          if (this.model.isEogToken(token) || generated.length >= maxTokens || signal?.aborted) break;
        }
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        finished.push(generated.some((t) => this.model.isEogToken(t)));
        texts.push(this.model.detokenize(generated.filter((t) => !this.model.isEogToken(t))).trim());
        outputTokens += generated.length;
      }
      return { texts, inputTokens: input.length, outputTokens, finished };
    } finally {
      await sequence.clearHistory();
      this.release(sequence);
    }
  }

  private async acquire(): Promise<LlamaContextSequence> {
    const sequence = this.idle.pop();
    if (sequence) return sequence;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(sequence: LlamaContextSequence): void {
    const next = this.waiters.shift();
    if (next) next(sequence);
    else this.idle.push(sequence);
  }

  /** Frees the model (tests and `ados llm serve` on shutdown). */
  static async unload(): Promise<void> {
    const loading = LocalLlm.loading;
    LocalLlm.loading = undefined;
    if (!loading) return;
    const llm = await loading.catch(() => undefined);
    await llm?.context.dispose();
    await llm?.model.dispose();
    await llm?.llama.dispose();
  }
}

export class LocalContextExceeded extends Error {
  override name = 'LocalContextExceeded';
}
