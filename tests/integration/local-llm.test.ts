import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { ensureLocalModel, LOCAL_MODEL } from '../../infra/llm/local-model';
import { LocalLlm } from '../../activities/nodes/local-llm';
import type { NodeOutcome } from '../../workflows/domain/run/run-state';
import { eventually, freePort, micros, useTestEnvWithWorkers } from '../../testkit/temporal';
import { nodeOutcomesOf } from '../../testkit/history';

/**
 * RAG runs end to end on the real local model: in the node worker (the `local` provider) and
 * behind `ados llm serve` through the OpenAI-compatible provider. Answers are short (a few dozen
 * tokens), so the file takes seconds of generation, not minutes.
 */

// The default rate, stated here rather than read from the code under test: USD per million tokens.
const RATE = { input: 0.15, output: 0.6 };
const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');

const QUESTIONS = [
  'How does ADOS decide whether a run may start?',
  'What does the CostAgent do before every node, and what can it decide when the budget runs low for a tenant with many runs in flight?',
  'Where are run artifacts written?',
];

function ragRun(tenantId: string, runId: string, question: string, generate: Record<string, unknown>) {
  return {
    tenantId,
    runId,
    dag: {
      nodes: [
        { id: 'retrieve', kind: 'retrieval.search', params: { query: question, top_k: 3 } },
        { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: LOCAL_MODEL, ...generate } },
      ],
    },
  };
}

/** The charge the rate gives a usage, computed here, independently of the pricing module. */
function expectedMicros(o: NodeOutcome): number {
  return Math.round(o.pricing!.inputTokens * RATE.input + o.pricing!.outputTokens * RATE.output);
}

/** The JSON the server prints once it listens, or null before it has. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function metadataDetails(handle: WorkflowHandle): Promise<string> {
  const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return meta.currentDetails ?? '';
}

describe('the local model', () => {
  before(() => {
    ensureLocalModel();
  });
  const env = useTestEnvWithWorkers();
  after(async () => LocalLlm.unload());

  test('RAG runs on the local model: each charge is its reported usage × the rate, to the micro-dollar', async () => {
    await configureTenant(env.client, 'local', { budgetUsd: 1 });
    const handles = await Promise.all(
      QUESTIONS.map((q, i) =>
        startRun(env.client, ragRun('local', `r${i}`, q, { max_tokens: 24 + 8 * i, num_candidates: 1 + (i % 2) })),
      ),
    );
    let total = 0;
    const outputs: number[] = [];
    for (const [i, handle] of handles.entries()) {
      const result = await runOutcome(handle);
      assert.equal(result.status, 'COMPLETED', JSON.stringify(result));
      const outcomes = await nodeOutcomesOf(handle);
      const generate = outcomes.get('generate')!;
      assert.equal(generate.pricing!.provider, 'local');
      // Known to the token before the node ran: the retrieval counted the prompt on the model.
      const counted = (outcomes.get('retrieve')!.output as { promptTokensByModel: Record<string, number> })
        .promptTokensByModel[LOCAL_MODEL];
      assert.equal(counted, generate.pricing!.inputTokens);
      assert.equal(generate.pricing!.priceModel, LOCAL_MODEL);
      assert.equal(generate.costMicros, expectedMicros(generate), `r${i}: usage ${JSON.stringify(generate.pricing)}`);
      // The answer is the model's: as many texts as candidates, no more tokens than max_tokens allows.
      const output = generate.output as { candidates: string[]; provider: string; model: string };
      assert.equal(output.provider, 'local');
      assert.equal(output.candidates.length, 1 + (i % 2));
      assert.ok(output.candidates.every((c) => c.length > 0));
      assert.ok(generate.pricing!.outputTokens <= (24 + 8 * i) * (1 + (i % 2)));
      // The prompt: the chat-formatted question and passages, more than the question alone.
      assert.ok(generate.pricing!.inputTokens > 40, `input tokens ${generate.pricing!.inputTokens}`);
      outputs.push(generate.pricing!.outputTokens);
      assert.equal(micros(result.costUsd), generate.costMicros + micros(result.nodes.retrieve!.costUsd));
      total += micros(result.costUsd);
      // The Web UI's node table (the run's current details) names the model.
      assert.match(
        await metadataDetails(handle),
        new RegExp(`\\*\\*generate\\*\\* \\(llm\\.generate\\) · COMPLETED .*${LOCAL_MODEL}`),
      );
    }
    const status = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'local');
        return s.runsInFlight.length === 0 && micros(s.spentUsd) === total ? s : undefined;
      },
      { what: 'the runs settled' },
    );
    assert.equal(micros(status.spentUsd), total);
  });

  test('ados llm serve answers the OpenAI-compatible provider with real usage, charged at the same rate', async () => {
    const port = await freePort();
    const server: ChildProcess = spawn(process.execPath, [ADOS, 'llm', 'serve', '--port', String(port), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ADOS_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    server.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const url = await eventually(async () => (parsed(stdout) as { url?: string } | null)?.url, {
        what: 'ados llm serve listening',
      });
      // The server's own answer, as any OpenAI client sees it.
      const direct = await fetch(`${url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: LOCAL_MODEL,
          messages: [{ role: 'user', content: 'Name a colour.' }],
          max_tokens: 12,
          n: 2,
        }),
      });
      assert.equal(direct.status, 200);
      const body = (await direct.json()) as {
        choices: Array<{ message: { content: string } }>;
        usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      };
      assert.equal(body.choices.length, 2);
      assert.ok(
        body.usage.prompt_tokens > 5 && body.usage.completion_tokens >= 2 && body.usage.completion_tokens <= 24,
      );
      assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
      const refused = await fetch(`${url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(refused.status, 400);
      assert.match(
        ((await refused.json()) as { error: { message: string } }).error.message,
        /runs smollm2-135m-instruct only/,
      );

      // A run whose node goes through the openai provider to this server.
      process.env.OPENAI_BASE_URL = url;
      process.env.OPENAI_API_KEY = 'not-checked-by-the-local-server';
      await configureTenant(env.client, 'served', { budgetUsd: 1 });
      const handle = await startRun(
        env.client,
        ragRun('served', 'via-http', QUESTIONS[0]!, { provider: 'openai', max_tokens: 24, num_candidates: 2 }),
      );
      const result = await runOutcome(handle);
      assert.equal(result.status, 'COMPLETED', JSON.stringify(result));
      const outcomes = await nodeOutcomesOf(handle);
      const generate = outcomes.get('generate')!;
      assert.equal((generate.output as { provider: string }).provider, 'openai');
      // The server's usage is the count the retrieval made in the worker: the same model, the same prompt.
      const counted = (outcomes.get('retrieve')!.output as { promptTokensByModel: Record<string, number> })
        .promptTokensByModel[LOCAL_MODEL];
      assert.equal(counted, generate.pricing!.inputTokens);
      assert.equal(generate.pricing!.priceModel, LOCAL_MODEL);
      assert.equal(generate.costMicros, expectedMicros(generate));
      assert.ok(generate.pricing!.inputTokens > 40);
    } finally {
      delete process.env.OPENAI_BASE_URL;
      delete process.env.OPENAI_API_KEY;
      server.kill('SIGTERM');
    }
  });
});
