import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { llmGenerate } from '../../activities/nodes/llm';
import { priceLlmUsage } from '../../activities/pricing';

/** A local server that speaks the OpenAI chat completions protocol. */
let server: Server;
let baseUrl: string;
const seen: Array<{ auth?: string; body: { model: string; n: number; messages: Array<{ content: string }> } }> = [];
let nextStatus = 200;

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

before(async () => {
  server = createServer(async (req, res) => {
    const parsed = JSON.parse(await body(req));
    seen.push({ auth: req.headers.authorization, body: parsed });
    if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    if (nextStatus !== 200) {
      res
        .writeHead(nextStatus, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: `status ${nextStatus}` } }));
      return;
    }
    const choices = Array.from({ length: parsed.n }, (_, i) => ({
      index: i,
      message: { role: 'assistant', content: `answer ${i} from ${parsed.model}` },
    }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        choices,
        usage: {
          prompt_tokens: 1000,
          completion_tokens: 500,
          total_tokens: 1500,
          prompt_tokens_details: { cached_tokens: 400 },
        },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  process.env.OPENAI_BASE_URL = baseUrl;
  process.env.OPENAI_API_KEY = 'test-key';
});

after(() => server.close());

const ctx = { signal: new AbortController().signal, attempt: 1, sleep: async () => undefined };
const task = (params: Record<string, unknown>) => ({
  tenantId: 't',
  runId: 'r',
  nodeId: 'gen',
  kind: 'llm.generate',
  params: { provider: 'openai', prompt: 'What is ADOS?', ...params },
  upstream: {},
});

describe('the openai provider', () => {
  test('sends the model, candidates and key, and takes cost from the response usage', async () => {
    nextStatus = 200;
    const result = await llmGenerate.execute(task({ model: 'gpt-4o', num_candidates: 2 }), ctx);
    const request = seen.at(-1)!;
    assert.equal(request.auth, 'Bearer test-key');
    assert.equal(request.body.model, 'gpt-4o');
    assert.equal(request.body.n, 2);
    assert.match(request.body.messages[0]!.content, /Question: What is ADOS\?/);
    assert.deepEqual((result.output as { candidates: string[] }).candidates, [
      'answer 0 from gpt-4o',
      'answer 1 from gpt-4o',
    ]);
    // The provider's usage, cached input included, priced by genai-prices: 600 × $2.50 + 400 × $1.25 + 500 × $10 per million.
    assert.equal(
      result.costMicros,
      priceLlmUsage('gpt-4o', { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 400 }).micros,
    );
    assert.equal(result.costMicros, 7000);
    assert.equal(result.pricing?.cachedInputTokens, 400);
    assert.equal(result.pricing?.provider, 'openai');
  });

  test('a 4xx answer is a non-retryable input error; a 5xx one may be retried', async () => {
    nextStatus = 400;
    await assert.rejects(llmGenerate.execute(task({}), ctx), { name: 'NodeInputError', message: /answered 400/ });
    nextStatus = 503;
    await assert.rejects(
      llmGenerate.execute(task({}), ctx),
      (err: Error) => err.name === 'Error' && /answered 503/.test(err.message),
    );
    nextStatus = 200;
  });
});
