/** The local model behind an OpenAI-compatible HTTP endpoint. */
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LOCAL_MODEL, LocalModelMissing } from '../../infra/llm/local-model';
import { LOCAL_CONTEXT_TOKENS, LocalContextExceeded, LocalLlm } from '../../activities/nodes/local-llm';

/**
 * `ados llm serve`: the local model behind an OpenAI-compatible `POST /v1/chat/completions` (and
 * `GET /v1/models`), with the model's real token usage, so anything that speaks the OpenAI API,
 * ADOS's own `openai` provider included, can use it. The user's messages are joined into one
 * prompt; `n` answers share it. No key is needed: it listens on loopback unless told otherwise.
 */

const chatRequest = z.object({
  model: z.literal(LOCAL_MODEL, { error: `this server runs ${LOCAL_MODEL} only` }),
  messages: z
    .array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(100_000) }))
    .min(1)
    .max(64),
  n: z.number().int().min(1).max(8).default(1),
  max_tokens: z.number().int().min(1).max(LOCAL_CONTEXT_TOKENS).default(256),
});

const openAiError = (message: string, type: string) => ({ error: { message, type } });

export async function buildLlmServer({ logger }: { logger: Logger }) {
  const app = Fastify({ loggerInstance: logger, bodyLimit: 1024 * 1024 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, _request, reply) => {
    const message = err instanceof Error ? err.message : String(err);
    if ((err as { validation?: unknown }).validation)
      return reply.code(400).send(openAiError(message, 'invalid_request_error'));
    if (err instanceof LocalContextExceeded) return reply.code(400).send(openAiError(message, 'invalid_request_error'));
    if (err instanceof LocalModelMissing) return reply.code(503).send(openAiError(message, 'server_error'));
    logger.error({ err }, 'chat completion failed');
    return reply.code(500).send(openAiError('the local model failed; see the server log', 'server_error'));
  });
  app.addHook('onClose', async () => LocalLlm.unload());

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: LOCAL_MODEL, object: 'model', created: 0, owned_by: 'ados' }],
  }));

  app.post('/v1/chat/completions', { schema: { body: chatRequest } }, async (request) => {
    const { messages, n, max_tokens: maxTokens } = request.body;
    const prompt = messages
      .filter((m) => m.role !== 'assistant')
      .map((m) => m.content)
      .join('\n');
    const llm = await LocalLlm.get();
    const abort = new AbortController();
    request.raw.once('close', () => {
      if (!request.raw.complete) abort.abort();
    });
    const answer = await llm.generate(prompt, maxTokens, n, abort.signal);
    const promptTokens = answer.inputTokens;
    const completionTokens = answer.outputTokens;
    return {
      id: `chatcmpl-${request.id}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: LOCAL_MODEL,
      choices: answer.texts.map((content, index) => ({
        index,
        message: { role: 'assistant', content },
        finish_reason: answer.finished[index] ? 'stop' : 'length',
      })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
  });
  return app;
}
