import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, quote, runOutcome, startRun, tenantStatus } from '../../api/client';
import { testApi } from '../../testkit/api';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

/** Questions of very different lengths: prompt and retrieval costs vary from run to run. */
const QUESTIONS = [
  'How are costs reported?',
  'How does a tenant budget work?',
  'What does the CostAgent weigh before it lets a node start, and when does it degrade the rest of a run instead?',
  'Explain partitioned task queues.',
  'Which node kinds are built in, what does each of them cost, and how is a custom kind priced when the catalog cannot price it in advance?',
  'What is a lease?',
  'How are shadow explorations paid for, and how does learning decide a cheaper model is good enough?',
];

function ragRun(tenantId: string, runId: string, i: number) {
  return {
    tenantId,
    runId,
    dag: {
      nodes: [
        { id: 'retrieve', kind: 'retrieval.search', params: { query: QUESTIONS[i % QUESTIONS.length], top_k: 5 } },
        {
          id: 'generate',
          kind: 'llm.generate',
          deps: ['retrieve'],
          params: { model: 'gpt-4.1-mini', num_candidates: 2 },
        },
        { id: 'rerank', kind: 'rerank', deps: ['generate'], critical: false },
        {
          id: 'evaluate',
          kind: 'eval.score',
          deps: ['rerank'],
          params: { reference: 'ADOS governs runs within budgets.' },
        },
      ],
    },
  };
}

describe('quotes', () => {
  test('after warming, actual costs fall inside [p5, p95] of their quotes for at least 90% of 50 runs', async () => {
    const tenantId = 'quoted';
    await configureTenant(env.client, tenantId, {
      budgetUsd: 1000,
      maxConcurrentRuns: 10,
      backpressureThreshold: 1,
      learning: { intensity: 'CONSERVATIVE' },
    });
    const cold = await quote(env.client, ragRun(tenantId, 'cold', 0));
    assert.equal(cold.basis, 'catalog', 'a new tenant is quoted from the catalog');
    assert.ok(cold.byNode.every((n) => n.basis === 'catalog' && n.samples === 0));
    assert.ok(cold.p5Usd <= cold.p50Usd && cold.p50Usd < cold.p95Usd);

    // Warm the tenant's cost model.
    for (let batch = 0; batch < 3; batch++)
      await Promise.all(
        Array.from({ length: 7 }, async (_, i) =>
          runOutcome(await startRun(env.client, ragRun(tenantId, `warm-${batch}-${i}`, batch * 7 + i))),
        ),
      );
    await eventually(async () => (await tenantStatus(env.client, tenantId)).runsInFlight.length === 0);

    // 50 runs, each quoted just before it starts.
    let inside = 0;
    const misses: string[] = [];
    const widths: number[] = [];
    const errors: number[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const n = batch * 10 + i;
          const input = ragRun(tenantId, `quoted-${n}`, n * 3 + 1);
          const q = await quote(env.client, input);
          const result = await runOutcome(await startRun(env.client, input));
          return { q, result, n };
        }),
      );
      for (const { q, result, n } of outcomes) {
        assert.equal(result.status, 'COMPLETED');
        assert.equal(q.basis, 'learned', 'a warm tenant is quoted from what it learned');
        const actual = micros(result.costUsd);
        widths.push((q.p95Usd - q.p5Usd) / q.p50Usd);
        errors.push(Math.abs(actual - micros(q.p50Usd)) / actual);
        if (actual >= micros(q.p5Usd) && actual <= micros(q.p95Usd)) inside++;
        else misses.push(`run ${n}: $${result.costUsd} outside [$${q.p5Usd}, $${q.p95Usd}]`);
      }
    }
    const coverage = inside / 50;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    process.stdout.write(
      `# quote coverage: ${inside}/50 runs inside [p5, p95] (${(coverage * 100).toFixed(0)}%); median interval width ${(median(widths) * 100).toFixed(0)}% of p50; median |actual − p50| ${(median(errors) * 100).toFixed(1)}% of actual\n`,
    );
    assert.ok(coverage >= 0.9, `coverage ${coverage}: ${misses.join('; ')}`);
  });

  test('POST /v1/tenants/{id}/quotes: a quote, nothing started; a bad DAG is a 400 naming it, an unknown tenant a 404', async () => {
    await configureTenant(env.client, 'quote-http', { budgetUsd: 10 });
    const app = await testApi(env.client, 'admin-token-for-quotes-0123456789');
    const headers = { authorization: 'Bearer admin-token-for-quotes-0123456789' };
    const { dag } = ragRun('quote-http', 'q', 2);
    const body = { dag };
    const ok = await app.inject({ method: 'POST', url: '/v1/tenants/quote-http/quotes', headers, payload: body });
    assert.equal(ok.statusCode, 200, ok.body);
    const q = ok.json();
    assert.deepEqual(
      q.byNode.map((n: { nodeId: string }) => n.nodeId),
      ['retrieve', 'generate', 'rerank', 'evaluate'],
    );
    assert.equal(q.basis, 'catalog');
    assert.ok(q.p95Usd > q.p50Usd && q.p50Usd > 0);
    assert.equal((await tenantStatus(env.client, 'quote-http')).runsInFlight.length, 0, 'nothing started');

    const cyclic = {
      dag: {
        nodes: [
          { id: 'a', kind: 'util.sleep', deps: ['b'], params: {} },
          { id: 'b', kind: 'util.sleep', deps: ['a'], params: {} },
        ],
      },
    };
    const bad = await app.inject({ method: 'POST', url: '/v1/tenants/quote-http/quotes', headers, payload: cyclic });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /cycle/);
    const unknown = await app.inject({ method: 'POST', url: '/v1/tenants/nobody/quotes', headers, payload: body });
    assert.equal(unknown.statusCode, 404);
    await app.close();
  });

  test('a tenant that leases at p95 reserves its runs’ quoted 95th percentile at admission; others their estimate', async () => {
    const leased = async (tenantId: string, leaseAt: 'p95' | 'estimate') => {
      await configureTenant(env.client, tenantId, { budgetUsd: 10, leaseAt });
      const input = {
        tenantId,
        runId: 'leased',
        dag: {
          nodes: [
            { id: 'hold', kind: 'util.sleep', params: { ms: 1500, costUsd: 0 } },
            { id: 'generate', kind: 'llm.generate', deps: ['hold'], params: { model: 'gpt-4o', prompt: 'hi' } },
          ],
        },
      };
      const q = await quote(env.client, input);
      const handle = await startRun(env.client, input);
      const run = await eventually(async () => (await tenantStatus(env.client, tenantId)).runsInFlight[0]);
      await runOutcome(handle);
      return { q, grantedMicros: run.grantedMicros };
    };
    const p95 = await leased('lease-p95', 'p95');
    assert.equal(p95.grantedMicros, micros(p95.q.p95Usd));
    const estimate = await leased('lease-estimate', 'estimate');
    assert.equal(estimate.grantedMicros, micros(estimate.q.p50Usd));
    assert.ok(p95.grantedMicros > estimate.grantedMicros);
  });
});
