import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantReport, tenantStatus, UserError } from '../../api/client';
import { testApi } from '../../testkit/api';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

describe('showback', () => {
  test("tagged runs: the report's totals, by tag and as CSV, equal the tenant's spend to the micro-dollar", async () => {
    await configureTenant(env.client, 'shop', {
      budgetUsd: 50,
      maxConcurrentRuns: 8,
      backpressureThreshold: 1,
      learning: { intensity: 'AGGRESSIVE' },
    });
    const handles = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        startRun(env.client, {
          tenantId: 'shop',
          runId: `tagged-${i}`,
          tags: { team: i % 2 ? 'search' : 'answers', env: 'prod' },
          dag: {
            nodes: [
              { id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o', prompt: `question ${i}` } },
              { id: 'post', kind: 'util.sleep', deps: ['generate'], params: { ms: 5, costUsd: 0.001 * (i + 1) } },
            ],
          },
        }),
      ),
    );
    const results = await Promise.all(handles.map(runOutcome));
    assert.deepEqual(results[0]!.tags, { team: 'answers', env: 'prod' }, 'the result carries its tags');
    // Every run released and every shadow exploration settled.
    const status = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'shop');
        return s.runsInFlight.length === 0 && s.learning.learningReservedUsd === 0 ? s : undefined;
      },
      { timeoutMs: 60_000, what: 'shop to settle' },
    );
    const report = await tenantReport(env.client, 'shop');
    assert.equal(micros(report.totalUsd), micros(status.spentUsd), 'the report totals the period spend');
    assert.equal(report.runs, 8);
    assert.equal(
      micros(report.byTag['team=search']!) + micros(report.byTag['team=answers']!),
      micros(report.totalUsd),
      'the two teams split the spend',
    );
    assert.equal(micros(report.byTag['env=prod']!), micros(report.totalUsd));
    assert.equal(micros(report.byKind['util.sleep']!), micros(0.036), 'the sleep nodes cost 1+2+…+8 milli-dollars');
    assert.equal(
      micros(report.byCategory.learning ?? 0),
      micros(status.spendByCategory.learning ?? 0),
      "shadow explorations are the tenant's learning spend",
    );
    // The summary of a run records its tags too.
    assert.ok(report.rows.every((r) => r.tags.env === 'prod'));

    const app = await testApi(env.client, 'admin-token-for-showback-0123456789');
    try {
      const csv = await app.inject({
        method: 'GET',
        url: '/v1/tenants/shop/reports?format=csv',
        headers: { authorization: 'Bearer admin-token-for-showback-0123456789' },
      });
      assert.equal(csv.statusCode, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      const lines = csv.body.trim().split('\n');
      assert.equal(lines[0], 'runId,nodeId,kind,model,category,tags,costUsd,at');
      const sum = lines.slice(1).reduce((s, line) => s + micros(Number(line.split(',')[6])), 0);
      assert.equal(sum, micros(status.spentUsd), 'the CSV sums to the spend');
    } finally {
      await app.close();
    }
  });

  test('bad tags are refused naming the rule', async () => {
    await assert.rejects(
      startRun(env.client, {
        tenantId: 'shop',
        tags: { 'Bad Key': 'x' },
        dag: { nodes: [{ id: 'a', kind: 'util.sleep' }] },
      }),
      (err: unknown) => err instanceof UserError && /tags/.test(err.message) && /tag keys must match/.test(err.message),
    );
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
    await assert.rejects(
      startRun(env.client, { tenantId: 'shop', tags: eleven, dag: { nodes: [{ id: 'a', kind: 'util.sleep' }] } }),
      (err: unknown) => err instanceof UserError && /at most 10 tags/.test(err.message),
    );
  });
});
