/** Token counts from a real BPE tokenizer (o200k_base). */
import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';

let encoder: Tiktoken | undefined;

/** Token counts with OpenAI's o200k_base encoding (the gpt-4o family), loaded once per process. */
export function countTokens(text: string): number {
  encoder ??= new Tiktoken(o200k);
  return encoder.encode(text).length;
}

/** The longest prefix of `text` of at most `maxTokens` tokens. */
export function truncateToTokens(text: string, maxTokens: number): string {
  encoder ??= new Tiktoken(o200k);
  const tokens = encoder.encode(text);
  return tokens.length <= maxTokens ? text : encoder.decode(tokens.slice(0, Math.max(0, maxTokens)));
}

/** Lowercased word tokens, for overlap metrics (F1, ROUGE-L) and reranking. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}
