import { UNIT_PRICES, toMicros } from '../../workflows/domain/pricing/catalog';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { llmGenerate, offlineProvider } from '../../activities/nodes/llm';
import { evalScore, rougeL, tokenF1 } from '../../activities/nodes/quality';
import { DEFAULT_CORPUS_DIR, retrievalSearch } from '../../activities/nodes/retrieval';
import { countTokens } from '../../activities/tokenizer';
import { nodeKinds } from '../../activities/nodes/registry';
import { utilSpin } from '../../activities/nodes/util';
import { priceLlmUsage } from '../../activities/pricing';
import type { NodeTask } from '../../workflows/ports/activities';

const ctx = { signal: new AbortController().signal, attempt: 1, sleep: async () => undefined };
const task = (kind: string, params: Record<string, unknown>, upstream: Record<string, unknown> = {}): NodeTask => ({
  tenantId: 't',
  runId: 'r',
  nodeId: 'n',
  kind,
  params,
  upstream,
});

describe('node kinds', () => {
  test('the built-in kinds are registered', () => {
    assert.deepEqual(
      nodeKinds()
        .map((k) => k.kind)
        .sort(),
      ['eval.score', 'llm.generate', 'rerank', 'retrieval.search', 'util.fail', 'util.sleep', 'util.spin'],
    );
  });

  test('util.spin keeps a CPU busy for its ms and charges its cost; a cancel stops it at the next slice', async () => {
    const done = await utilSpin.execute(task('util.spin', { ms: 120, costUsd: 0.002 }), ctx);
    const output = done.output as { spunMs: number; processCpuMs: number };
    assert.equal(output.spunMs, 120);
    assert.ok(output.processCpuMs >= 80, `CPU used ${output.processCpuMs} ms of 120`);
    assert.equal(done.costMicros, 2000);
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled')), 30);
    const began = performance.now();
    await assert.rejects(
      utilSpin.execute(task('util.spin', { ms: 5000 }), { ...ctx, signal: cancel.signal }),
      /cancelled/,
    );
    assert.ok(performance.now() - began < 1000, 'stopped soon after the cancel');
  });

  test('retrieval.search ranks the passage that answers the query first (BM25)', async () => {
    const corpus = mkdtempSync(join(tmpdir(), 'ados-corpus-'));
    writeFileSync(
      join(corpus, 'notes.md'),
      [
        'Budgets live in a singleton entity workflow per tenant, changed by signals and updates.',
        'The exporter mirrors Temporal history into artifact files under the artifacts folder.',
        'Each node cost event carries an idempotency key so that the tenant is charged exactly once.',
        'Workers poll partitioned task queues; a stable hash of the tenant picks the partition.',
      ].join('\n\n'),
    );
    const result = await retrievalSearch.execute(
      task('retrieval.search', { query: 'charged exactly once idempotency', top_k: 2, corpus }),
      ctx,
    );
    const { passages } = result.output as { passages: Array<{ id: string; text: string }> };
    assert.ok(passages.length >= 1 && passages.length <= 2, 'at most top_k, only passages that match');
    assert.match(passages[0]!.text, /idempotency key/);
    assert.equal(passages[0]!.id, 'notes.md#2');
    // One price per thousand indexed passages: the four lines of notes.md.
    assert.equal(result.costMicros, toMicros((4 / 1000) * UNIT_PRICES.retrievalPer1kDocs));
  });

  test('retrieval.search searches the project docs by default', async () => {
    const result = await retrievalSearch.execute(
      task('retrieval.search', { query: 'continue-as-new entity history', top_k: 5 }),
      ctx,
    );
    const { passages } = result.output as { passages: Array<{ id: string }> };
    assert.equal(passages.length, 5);
    assert.ok(
      passages.every((p) => !p.id.startsWith('/')),
      `ids are relative to ${DEFAULT_CORPUS_DIR}`,
    );
  });

  test('retrieval.search without a query is a clear input error', async () => {
    await assert.rejects(retrievalSearch.execute(task('retrieval.search', {}), ctx), {
      name: 'NodeInputError',
      message: /needs params\.query/,
    });
  });

  test('token counts come from a real BPE tokenizer', () => {
    assert.equal(countTokens('hello world'), 2);
    assert.ok(countTokens('Temporal history is the replay log.') >= 6);
  });

  test('the offline provider is deterministic and priced from the catalog', async () => {
    const upstream = {
      retrieve: {
        query: 'what is the log?',
        passages: [{ id: 'p', score: 1, text: 'Temporal history is the log. The exporter mirrors it into files.' }],
      },
    };
    const a = await llmGenerate.execute(task('llm.generate', { model: 'gpt-4o', num_candidates: 2 }, upstream), ctx);
    const b = await llmGenerate.execute(task('llm.generate', { model: 'gpt-4o', num_candidates: 2 }, upstream), ctx);
    assert.deepEqual(a, b);
    const out = a.output as { candidates: string[]; inputTokens: number; outputTokens: number };
    assert.equal(out.candidates.length, 2);
    assert.equal(a.costMicros, priceLlmUsage('gpt-4o', out).micros);
    assert.equal(a.model, 'gpt-4o');
  });

  test('a model without a price is a clear, non-retryable input error', async () => {
    await assert.rejects(llmGenerate.execute(task('llm.generate', { model: 'gpt-99', prompt: 'x' }), ctx), {
      name: 'NodeInputError',
      message: /model gpt-99 has no price in @pydantic\/genai-prices/,
    });
  });

  test('offline answers quote the passages', async () => {
    const completion = await offlineProvider.complete({
      model: 'gpt-4o',
      prompt: '[passage] Budgets live in an entity workflow per tenant.\nQuestion: where do budgets live?',
      candidates: 1,
      maxTokens: 50,
      signal: ctx.signal,
    });
    assert.match(completion.candidates[0]!, /entity workflow/);
  });

  test('token F1 and ROUGE-L score identical text 1 and disjoint text 0', () => {
    assert.equal(tokenF1('the cat sat', 'the cat sat'), 1);
    assert.equal(tokenF1('a b c', 'x y z'), 0);
    assert.equal(rougeL('the cat sat on the mat', 'the cat sat on the mat'), 1);
    assert.ok(Math.abs(rougeL('the cat sat', 'the cat on the mat sat') - (2 * 1 * 0.5) / 1.5) < 1e-9);
  });

  test('eval.score compares the best upstream answer with the reference', async () => {
    const result = await evalScore.execute(
      task(
        'eval.score',
        { reference: 'budgets live in the tenant entity' },
        { rerank: { ranked: ['budgets live in the tenant entity'] } },
      ),
      ctx,
    );
    assert.deepEqual(result.output, { f1: 1, rougeL: 1, passed: true, threshold: 0 });
  });
});
