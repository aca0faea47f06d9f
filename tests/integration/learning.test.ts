import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { registerNodeKind } from '../../activities/nodes/registry';
import { metaLearningStatusQuery, priorsQuery } from '../../workflows/messages/meta-learning';
import { META_LEARNING_WORKFLOW_ID } from '../../workflows/domain/ids';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';
import { nodeOutcomesOf } from '../../testkit/history';
import { priceLlmTokens } from '../../workflows/domain/pricing/catalog';
import { runPrices } from '../../activities/pricing';
import { SHARE_BINS, histogramQuantiles } from '../../workflows/domain/prediction/token-sketch';

// A node kind the catalog cannot price, costing exactly what its params say: its costs are learned in absolute µ$.
registerNodeKind({
  kind: 'test.metered',
  category: 'compute',
  async execute(task) {
    return { output: { ok: true }, costMicros: Number(task.params.micros) };
  },
});
// The priors of this file's server: quick releases and little noise, so that the test can tell tenants apart.
process.env.ADOS_META_EPSILON = '1000';
// One release of ε 1000 must fit in each tenant's privacy budget.
process.env.ADOS_META_EPSILON_TOTAL = '100000';
process.env.ADOS_META_PUBLISH_SECONDS = '0';

const env = useTestEnvWithWorkers();

const rag = (query: string) => ({
  name: 'rag',
  nodes: [
    { id: 'retrieve', kind: 'retrieval.search', params: { query, top_k: 4 } },
    { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o', max_tokens: 200 } },
    { id: 'evaluate', kind: 'eval.score', deps: ['generate'] },
  ],
});
const queries = [
  'how does admission work',
  'what is a budget lease',
  'how are runs degraded',
  'what does the exporter write',
  'how is cost counted once',
];

async function runInTurn(
  tenantId: string,
  count: number,
  prefix: string,
  onEach?: (s: TenantStatus) => void,
): Promise<DeliveryRunResult[]> {
  const results: DeliveryRunResult[] = [];
  for (let i = 0; i < count; i++) {
    results.push(
      await runOutcome(
        await startRun(env.client, { tenantId, runId: `${prefix}-${i}`, dag: rag(queries[i % queries.length]!) }),
      ),
    );
    onEach?.(await tenantStatus(env.client, tenantId));
  }
  return results;
}

/** Waits until no run and no shadow holds money: every exploration has settled. */
async function settled(tenantId: string): Promise<TenantStatus> {
  return eventually(
    async () => {
      const s = await tenantStatus(env.client, tenantId);
      return s.runsInFlight.length === 0 && s.learning.learningReservedUsd === 0 ? s : undefined;
    },
    { what: `${tenantId} to settle`, timeoutMs: 60_000 },
  );
}

describe('learning', () => {
  test('an AGGRESSIVE tenant learns a cheaper model in shadow within its 20% learning share, and its runs then use it', async () => {
    await configureTenant(env.client, 'learner', {
      budgetUsd: 1,
      maxConcurrentRuns: 10,
      learning: { intensity: 'AGGRESSIVE', minSamples: 3 },
    });
    const share = (s: TenantStatus) =>
      assert.ok(
        s.learning.learningSpentUsd <= 0.2 * s.budgetUsd,
        `learning ${s.learning.learningSpentUsd} ≤ 20% of ${s.budgetUsd}`,
      );
    const first = await runInTurn('learner', 8, 'learn', share);
    assert.equal(first.filter((r) => r.learning?.explore).length, 4, 'half the runs explore');
    assert.ok(first.every((r) => r.status === 'COMPLETED'));
    // Until gpt-4o-mini has proven itself, an exploring run shadows its gpt-4o call with it; after, there is nothing cheaper to try.
    for (const r of first.filter((x) => x.learning?.explore && x.nodes.generate?.model === 'gpt-4o')) {
      assert.deepEqual(r.learning?.shadow, {
        nodeId: 'generate',
        workflowId: `shadow-exploration:learner:${r.runId}:generate`,
        fromModel: 'gpt-4o',
        toModel: 'gpt-4o-mini',
      });
    }
    assert.ok(first.filter((r) => r.learning?.shadow).length >= 3);
    const learned = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'learner');
        return s.learning.preferences.length > 0 ? s : undefined;
      },
      { what: 'a preference', timeoutMs: 60_000 },
    );
    const [preference] = learned.learning.preferences;
    assert.equal(preference?.toModel, 'gpt-4o-mini');
    assert.ok(preference!.evidence.samples >= 3);
    assert.ok(preference!.evidence.costShadowUsd < preference!.evidence.costFullUsd);

    const [after] = await runInTurn('learner', 1, 'after', share);
    assert.equal(after!.nodes.generate?.model, 'gpt-4o-mini', 'the plan selector prefers the proven model');
    assert.equal(after!.learning?.choices[0]?.toModel, 'gpt-4o-mini');
    assert.equal(after!.learning?.choices[0]?.evidence.samples, preference!.evidence.samples);

    const s = await settled('learner');
    share(s);
    assert.ok(s.learning.learningSpentUsd > 0, 'the shadows were paid for');
    const runCosts = [...first, after!].reduce((sum, r) => sum + micros(r.costUsd), 0);
    assert.equal(
      micros(s.spentUsd),
      runCosts + micros(s.learning.learningSpentUsd),
      'spend = runs + learning, exactly',
    );
    assert.equal(micros(s.spendByCategory.learning ?? 0), micros(s.learning.learningSpentUsd));

    // The learned cost model has gpt-4o and gpt-4o-mini (from the shadows) with their samples.
    const keys = s.learning.costModel.map((e) => e.key);
    assert.ok(keys.includes('llm.generate|gpt-4o') && keys.includes('llm.generate|gpt-4o-mini'), keys.join(', '));

    // Every change is in learning_history.jsonl, in order, with its reason.
    const file = join(process.env.ADOS_ARTIFACTS_DIR!, 'tenants', 'learner', 'learning_history.jsonl');
    const history = await eventually(
      async () => {
        const lines = readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { seq: number; type: string; reason: string });
        return lines.some((l) => l.type === 'preference') ? lines : undefined;
      },
      { what: 'the preference in learning_history.jsonl' },
    );
    assert.deepEqual(
      history.map((l) => l.seq),
      history.map((_, i) => i + 1),
    );
    assert.ok(history.filter((l) => l.type === 'exploration').length >= 3);
    assert.ok(history.every((l) => l.reason.length > 0));
    const profile = JSON.parse(
      readFileSync(join(process.env.ADOS_ARTIFACTS_DIR!, 'tenants', 'learner', 'learning_profile.json'), 'utf8'),
    ) as { intensity: string; learningBudgetUsd: number };
    assert.equal(profile.intensity, 'AGGRESSIVE');
    assert.equal(profile.learningBudgetUsd, 0.2);
  });

  test('a CONSERVATIVE tenant never explores and spends nothing on learning; a tiny learning share stops exploration', async () => {
    await configureTenant(env.client, 'careful', { budgetUsd: 1, learning: { intensity: 'CONSERVATIVE' } });
    await configureTenant(env.client, 'capped', {
      budgetUsd: 1,
      maxConcurrentRuns: 10,
      learning: { intensity: 'AGGRESSIVE', budgetShares: { AGGRESSIVE: 0.0008 } },
    });
    const careful = await runInTurn('careful', 5, 'c');
    assert.ok(careful.every((r) => r.learning?.explore === false && !r.learning.shadow));
    const c = await settled('careful');
    assert.equal(c.learning.learningSpentUsd, 0);
    assert.equal(c.learning.learningBudgetUsd, 0.05);

    await runInTurn('capped', 10, 'cap');
    const s = await settled('capped');
    assert.ok(s.learning.learningSpentUsd <= 0.0008, `learning spent ${s.learning.learningSpentUsd} ≤ $0.0008`);
    assert.ok(
      s.learning.history.some((e) => e.type === 'exploration'),
      'some shadows ran',
    );
    const denied = s.learning.history.filter((e) => e.type === 'exploration-denied');
    assert.ok(denied.length > 0, 'later shadows were denied');
    assert.match(denied[0]!.reason, /the learning budget has \$[\d.]+ left, the shadow needs \$[\d.]+/);
  });

  test('meta-learning: the prior comes from the opted-in tenant alone, with noise of the stated scale; a new tenant starts from it', async () => {
    await configureTenant(env.client, 'meta-in', {
      budgetUsd: 10,
      maxConcurrentRuns: 10,
      learning: { intensity: 'CONSERVATIVE', metaLearningOptIn: true },
    });
    await configureTenant(env.client, 'meta-out', {
      budgetUsd: 10,
      maxConcurrentRuns: 10,
      learning: { intensity: 'CONSERVATIVE', metaLearningOptIn: false },
    });
    const metered = (tenantId: string, micros: number, runId: string) =>
      startRun(env.client, {
        tenantId,
        runId,
        dag: {
          nodes: Array.from({ length: 10 }, (_, i) => ({ id: `m${i}`, kind: 'test.metered', params: { micros } })),
        },
      });
    // 50 samples each: the point at which an opted-in tenant contributes.
    const handles = await Promise.all(
      Array.from({ length: 5 }, (_, i) => [
        metered('meta-in', 1000, `in-${i}`),
        metered('meta-out', 50_000, `out-${i}`),
      ]).flat(),
    );
    const results = await Promise.all(handles.map(runOutcome));
    assert.deepEqual(
      new Set(results.map((r) => r.status)),
      new Set(['COMPLETED']),
      'unpriced nodes run on leases topped up as they go',
    );

    const meta = env.client.workflow.getHandle(META_LEARNING_WORKFLOW_ID);
    const priors = await eventually(
      async () =>
        (await meta.query(priorsQuery))?.entries['test.metered']?.absolute ? meta.query(priorsQuery) : undefined,
      { what: 'published priors', timeoutMs: 60_000 },
    );
    const status = await meta.query(metaLearningStatusQuery);
    assert.deepEqual(status.contributors, ['meta-in'], 'the opted-out tenant never contributed');
    const prior = priors!.entries['test.metered']!.absolute!;
    assert.equal(prior.contributors, 1);
    // b = clip · d / (m · ε) = 100,000 µ$ · 1 / (1 · 1000)
    assert.equal(prior.noiseScale, 100);
    assert.notEqual(prior.value, 1000, 'noised, not the raw mean');
    // P(|Laplace(100)| > 1,500) = e^-15: a failure here means the prior is not what it claims.
    assert.ok(
      Math.abs(prior.value - 1000) < 1500,
      `prior ${prior.value} is 1000 µ$ plus noise of scale 100, not near the opted-out 50,000`,
    );

    await configureTenant(env.client, 'meta-new', {
      budgetUsd: 10,
      learning: { intensity: 'CONSERVATIVE', metaLearningOptIn: true },
    });
    const fresh = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'meta-new');
        return s.learning.costModel.find((e) => e.key === 'test.metered' && e.prior !== undefined);
      },
      { what: 'the new tenant to take the prior' },
    );
    assert.equal(fresh.prior, prior.value);
    assert.equal(fresh.samples, 0);
    const run = await runOutcome(
      await startRun(env.client, {
        tenantId: 'meta-new',
        runId: 'first',
        dag: { nodes: [{ id: 'm', kind: 'test.metered', params: { micros: 1000 } }] },
      }),
    );
    assert.equal(run.decisions[0]?.nodeEstimateUsd, Math.round(prior.value) / 1e6, 'its first estimate is the prior');

    // Opting out takes the tenant's statistics out of every future release.
    await configureTenant(env.client, 'meta-in', { learning: { metaLearningOptIn: false } });
    await eventually(
      async () => ((await meta.query(metaLearningStatusQuery)).contributors.includes('meta-in') ? undefined : true),
      { what: 'the withdrawal' },
    );
    const out = await tenantStatus(env.client, 'meta-in');
    assert.ok(
      out.learning.history.some((e) => e.type === 'meta-learning' && !e.optIn && /past releases keep/.test(e.reason)),
    );
  });

  test('meta-learning: output lengths are shared as noised histograms; a new tenant’s LLM node is first estimated from them', async () => {
    await configureTenant(env.client, 'meta-llm', {
      budgetUsd: 10,
      maxConcurrentRuns: 20,
      learning: { intensity: 'CONSERVATIVE', metaLearningOptIn: true },
    });
    // 17 RAG runs, 51 cost samples: the point at which an opted-in tenant contributes.
    await Promise.all(
      Array.from({ length: 17 }, async (_, i) =>
        runOutcome(
          await startRun(env.client, {
            tenantId: 'meta-llm',
            runId: `llm-${i}`,
            dag: rag(queries[i % queries.length]!),
          }),
        ),
      ),
    );
    const meta = env.client.workflow.getHandle(META_LEARNING_WORKFLOW_ID);
    const priors = (await eventually(
      async () => ((await meta.query(priorsQuery))?.tokens?.['gpt-4o|256'] ? meta.query(priorsQuery) : undefined),
      { what: 'published output-length priors', timeoutMs: 60_000 },
    ))!;
    const published = priors.tokens!['gpt-4o|256']!;
    assert.equal(published.contributors, 1);
    assert.equal(published.shares.length, SHARE_BINS);
    assert.ok(Math.abs(published.shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'a distribution');
    const status = await meta.query(metaLearningStatusQuery);
    const coordinate = status.coordinates.find((c) => c.key === 'gpt-4o|256' && c.basis === 'histogram')!;
    // b = 2 · d / (m · ε): every coordinate of the release shares ε 1000.
    assert.equal(coordinate.noiseScale, (2 * status.coordinates.length) / (1 * 1000));
    assert.equal(published.noiseScale, coordinate.noiseScale);
    // The contributor's own shares, against what was published: noised, close at this ε.
    const own = (await tenantStatus(env.client, 'meta-llm')).learning.tokenModel.filter(
      (t) => t.family === 'output' && t.key.startsWith('gpt-4o|256|'),
    );
    assert.ok(own.length > 0);
    const priorP50 = histogramQuantiles(published.shares, 0).p50;
    assert.ok(Math.abs(priorP50 - own[0]!.p50) < 0.1, `prior p50 ${priorP50} vs the tenant's ${own[0]!.p50}`);

    await configureTenant(env.client, 'meta-llm-new', {
      budgetUsd: 10,
      learning: { intensity: 'CONSERVATIVE', metaLearningOptIn: true },
    });
    await eventually(
      async () =>
        (await tenantStatus(env.client, 'meta-llm-new')).learning.tokenModel.find(
          (t) => t.family === 'prior' && t.key === 'gpt-4o|256',
        ),
      { what: 'the new tenant to take the output prior' },
    );
    const first = await startRun(env.client, { tenantId: 'meta-llm-new', runId: 'first', dag: rag(queries[0]!) });
    const result = await runOutcome(first);
    assert.equal(result.status, 'COMPLETED');
    // Before its generation, its prompt is counted (exact input) and its output is the prior's median share of max_tokens.
    const outcomes = await nodeOutcomesOf(first);
    const input = (outcomes.get('retrieve')!.output as { promptTokensByModel: Record<string, number> })
      .promptTokensByModel['gpt-4o']!;
    const expected = priceLlmTokens('gpt-4o', input, Math.round(priorP50 * 200), runPrices(['gpt-4o']));
    const decision = result.decisions.find((d) => d.nodeId === 'generate')!;
    assert.equal(micros(decision.nodeEstimateUsd), expected, 'the estimate prices the prior, not the catalog');
  });
});
