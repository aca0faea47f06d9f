/**
 * The LLM prices and cheaper-model chains of runs recorded before a run's prices were carried in
 * its history. Replaying such a run must decide as it did, so these figures never change and no
 * new run estimates with them: new runs carry their prices from `@pydantic/genai-prices`.
 */
export const FROZEN_MODEL_PRICES: Readonly<
  Record<string, { inputPer1k: number; outputPer1k: number; cheaper?: string }>
> = {
  'gpt-4o': { inputPer1k: 0.0025, outputPer1k: 0.01, cheaper: 'gpt-4o-mini' },
  'gpt-4o-mini': { inputPer1k: 0.00015, outputPer1k: 0.0006 },
  'gpt-4.1': { inputPer1k: 0.002, outputPer1k: 0.008, cheaper: 'gpt-4.1-mini' },
  'gpt-4.1-mini': { inputPer1k: 0.0004, outputPer1k: 0.0016, cheaper: 'gpt-4.1-nano' },
  'gpt-4.1-nano': { inputPer1k: 0.0001, outputPer1k: 0.0004 },
  'claude-sonnet': { inputPer1k: 0.003, outputPer1k: 0.015, cheaper: 'claude-haiku' },
  'claude-haiku': { inputPer1k: 0.0008, outputPer1k: 0.004 },
};
