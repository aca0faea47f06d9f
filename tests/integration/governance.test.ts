import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, runHandle, runOutcome, startRun, tenantStatus } from '../../api/client';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { progressQuery } from '../../workflows/delivery-run';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

const exact = (id: string, costUsd: number, ms = 200) => ({
  id,
  kind: 'util.sleep',
  params: { ms, costUsd },
  estimatedCostUsd: costUsd,
});

async function settled(tenantId: string) {
  return eventually(
    async () => {
      const s = await tenantStatus(env.client, tenantId);
      return s.runsInFlight.length === 0 && s.runsWaiting.length === 0 ? s : undefined;
    },
    { what: `${tenantId} to settle` },
  );
}

describe('governance', () => {
  test('20 concurrent runs racing a budget that fits 6, with exact estimates, never overspend; a neighbour tenant runs all of its 20', async () => {
    await configureTenant(env.client, 'racer', { budgetUsd: 0.6, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    await configureTenant(env.client, 'neighbour', { budgetUsd: 100, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    const start = (tenantId: string, i: number) =>
      startRun(env.client, { tenantId, runId: `race-${i}`, dag: { nodes: [exact('work', 0.1)] } });
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) => [start('racer', i), start('neighbour', i)]).flat(),
    );
    const results = await Promise.all(handles.map(runOutcome));
    const racer = results.filter((r) => r.tenantId === 'racer');
    const neighbour = results.filter((r) => r.tenantId === 'neighbour');

    const racerStatus = await settled('racer');
    const runCosts = racer.reduce((s, r) => s + micros(r.costUsd), 0);
    assert.ok(micros(racerStatus.spentUsd) <= micros(0.6), `spend ${racerStatus.spentUsd} within the budget`);
    assert.equal(micros(racerStatus.spentUsd), runCosts, 'spend equals the sum of run costs');
    assert.equal(racer.filter((r) => r.status === 'COMPLETED').length, 6, 'exactly the six that fit completed');
    for (const r of racer.filter((x) => x.status !== 'COMPLETED')) {
      assert.ok(['TERMINATED', 'REJECTED'].includes(r.status), `${r.runId}: ${r.status}`);
      assert.equal(r.costUsd, 0);
      assert.ok(r.reason, 'says why');
    }
    assert.equal(racerStatus.reservedUsd, 0);

    assert.deepEqual(
      neighbour.map((r) => r.status),
      Array(20).fill('COMPLETED'),
      'the neighbour is untouched',
    );
    assert.equal(micros((await settled('neighbour')).spentUsd), micros(2));
  });

  test('with estimates 50% low, overspend stays within the estimation error of the nodes that ran', async () => {
    await configureTenant(env.client, 'optimist', { budgetUsd: 1, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    const handles = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        startRun(env.client, {
          tenantId: 'optimist',
          runId: `low-${i}`,
          dag: {
            nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: 300, costUsd: 0.15 }, estimatedCostUsd: 0.1 }],
          },
        }),
      ),
    );
    const results = await Promise.all(handles.map(runOutcome));
    const status = await settled('optimist');
    const ran = results.filter((r) => r.nodes.work!.status === 'COMPLETED').length;
    const bound = micros(1) + ran * (micros(0.15) - micros(0.1));
    assert.ok(
      micros(status.spentUsd) <= bound,
      `spent ${status.spentUsd} ≤ budget + error of the ${ran} nodes that ran`,
    );
    assert.equal(
      micros(status.spentUsd),
      results.reduce((s, r) => s + micros(r.costUsd), 0),
    );
    assert.ok(ran <= 10, 'no more nodes authorised than the budget covers at their estimates');
    assert.equal(status.budgetStatus, 'EXCEEDED');
    const next = await runOutcome(
      await startRun(env.client, { tenantId: 'optimist', runId: 'after', dag: { nodes: [exact('a', 0.01)] } }),
    );
    assert.equal(next.status, 'REJECTED');
  });

  test('a node whose real cost was unknown pushes the tenant past its budget: EXCEEDED, and its next run is REJECTED within seconds', async () => {
    await configureTenant(env.client, 'surprise', { budgetUsd: 1 });
    const first = await runOutcome(
      await startRun(env.client, {
        tenantId: 'surprise',
        runId: 'costly',
        dag: { nodes: [{ id: 'unknown', kind: 'util.sleep', params: { ms: 10, costUsd: 3 }, estimatedCostUsd: 0.01 }] },
      }),
    );
    assert.equal(first.status, 'COMPLETED');
    const status = await settled('surprise');
    assert.equal(status.budgetStatus, 'EXCEEDED');
    assert.equal(status.spentUsd, 3);
    const started = Date.now();
    const next = await runOutcome(
      await startRun(env.client, { tenantId: 'surprise', runId: 'next', dag: { nodes: [exact('a', 0.01)] } }),
    );
    assert.equal(next.status, 'REJECTED');
    assert.match(next.reason ?? '', /budget exceeded: spent \$3\.000000 of \$1/);
    assert.ok(Date.now() - started < 5000, 'rejected within seconds');
  });

  test('a run near the critical threshold ends DEGRADED, and its decision shows the plan', async () => {
    await configureTenant(env.client, 'edge', { budgetUsd: 1 });
    await runOutcome(
      await startRun(env.client, { tenantId: 'edge', runId: 'fill', dag: { nodes: [exact('fill', 0.92, 10)] } }),
    );
    await settled('edge');
    const handle = await startRun(env.client, {
      tenantId: 'edge',
      runId: 'rag',
      dag: {
        nodes: [
          {
            id: 'retrieve',
            kind: 'retrieval.search',
            params: { query: 'how does the CostAgent degrade a run', top_k: 5 },
          },
          { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o', num_candidates: 3 } },
          { id: 'advanced_reranking', kind: 'rerank', deps: ['generate'], critical: false },
          { id: 'evaluate', kind: 'eval.score', deps: ['generate'] },
        ],
      },
    });
    const result: DeliveryRunResult = await runOutcome(handle);
    assert.equal(result.status, 'DEGRADED');
    const degrade = result.decisions.find((d) => d.action === 'DEGRADE');
    assert.ok(degrade?.plan, 'a DEGRADE decision with its plan');
    assert.equal(degrade.nodeId, 'retrieve', 'decided before the first node');
    assert.match(degrade.reason, /above the critical threshold/);
    assert.ok(degrade.utilization > 0.9);
    assert.deepEqual(degrade.plan.skipped, ['advanced_reranking']);
    assert.deepEqual(degrade.plan.params.generate, { num_candidates: 1 });
    assert.deepEqual(degrade.plan.params.retrieve, { top_k: 3 });
    assert.deepEqual(degrade.plan.models.generate, { from: 'gpt-4o', to: 'gpt-4o-mini' });
    assert.equal(result.nodes.advanced_reranking!.status, 'SKIPPED');
    assert.equal(result.nodes.generate!.model, 'gpt-4o-mini');
    assert.equal(result.nodes.evaluate!.status, 'COMPLETED');
    assert.ok(
      result.decisions.every(
        (d) =>
          typeof d.confidence === 'number' &&
          typeof d.projectedTotalUsd === 'number' &&
          typeof d.concurrencyFactor === 'number',
      ),
    );
    assert.equal(result.decisions.length, 3, 'one decision before each node that ran');
    const sa = (await runHandle(env.client, 'edge', 'rag').describe()).searchAttributes as Record<string, unknown[]>;
    assert.deepEqual(sa.BudgetStatus, ['CRITICAL']);
    assert.deepEqual(sa.DeliveryStatus, ['DEGRADED']);
  });

  test('a run whose even degraded remainder cannot fit is TERMINATED before it spends, and says why', async () => {
    await configureTenant(env.client, 'small', { budgetUsd: 0.5 });
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'small',
        runId: 'too-big',
        dag: { nodes: [exact('cheap', 0.1, 10), exact('huge', 2, 10)] },
      }),
    );
    assert.equal(result.status, 'TERMINATED');
    assert.equal(result.costUsd, 0);
    assert.equal(result.decisions[0]!.action, 'TERMINATE');
    assert.match(result.reason ?? '', /even the degraded remainder/);
    assert.deepEqual(
      Object.values(result.nodes).map((n) => n.status),
      ['SKIPPED', 'SKIPPED'],
    );
  });

  test('a waiting run can be cancelled: it leaves the queue and the run behind it moves up', async () => {
    await configureTenant(env.client, 'queue', { budgetUsd: 10, maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const first = await startRun(env.client, {
      tenantId: 'queue',
      runId: 'first',
      dag: { nodes: [exact('a', 0.01, 2000)] },
    });
    await eventually(async () => ((await first.query(progressQuery)).status === 'RUNNING' ? true : undefined));
    const second = await startRun(env.client, {
      tenantId: 'queue',
      runId: 'second',
      priority: 2,
      dag: { nodes: [exact('a', 0.01, 10)] },
    });
    const third = await startRun(env.client, {
      tenantId: 'queue',
      runId: 'third',
      priority: 4,
      dag: { nodes: [exact('a', 0.01, 10)] },
    });
    await eventually(
      async () => ((await tenantStatus(env.client, 'queue')).runsWaiting.length === 2 ? true : undefined),
      { what: 'two waiting' },
    );
    assert.deepEqual(
      (await tenantStatus(env.client, 'queue')).runsWaiting.map((w) => w.runId),
      ['second', 'third'],
      'priority order',
    );
    await second.cancel();
    const cancelled = await runOutcome(second);
    assert.equal(cancelled.status, 'CANCELLED');
    await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'queue');
        return s.runsWaiting.length === 1 && s.runsWaiting[0]!.runId === 'third' ? true : undefined;
      },
      { what: 'the cancelled run to leave the queue' },
    );
    assert.equal((await runOutcome(third)).status, 'COMPLETED');
    assert.equal((await runOutcome(first)).status, 'COMPLETED');
  });

  test('a config change reaches runs in flight before their next decision', async () => {
    await configureTenant(env.client, 'shrinking', { budgetUsd: 10 });
    const chain = ['a', 'b', 'c', 'd'].map((id, i) => ({
      ...exact(id, 0.1, 1000),
      deps: i > 0 ? [['a', 'b', 'c', 'd'][i - 1]!] : [],
    }));
    const handle = await startRun(env.client, { tenantId: 'shrinking', runId: 'chain', dag: { nodes: chain } });
    await eventually(
      async () => ((await handle.query(progressQuery)).nodes.a?.status === 'COMPLETED' ? true : undefined),
      { what: 'the first node' },
    );
    await configureTenant(env.client, 'shrinking', { budgetUsd: 0.25 });
    const result = await runOutcome(handle);
    assert.equal(result.status, 'TERMINATED');
    const stop = result.decisions.find((d) => d.action === 'TERMINATE')!;
    assert.match(stop.reason, /of \$0\.250000/);
    assert.ok(micros(result.costUsd) <= micros(0.25), 'it stopped before passing the new budget');
  });

  test('at a period boundary the period is archived with its totals and spend restarts; a run in flight is charged to the new period', async () => {
    await configureTenant(env.client, 'periodic', { budgetUsd: 10, periodSeconds: 6 });
    await runOutcome(
      await startRun(env.client, { tenantId: 'periodic', runId: 'before', dag: { nodes: [exact('a', 0.5, 10)] } }),
    );
    const before = await settled('periodic');
    assert.equal(before.spentUsd, 0.5);
    assert.ok(before.periodEnd, 'a period with an end');
    // Starts before the boundary and finishes after it.
    const across = await startRun(env.client, {
      tenantId: 'periodic',
      runId: 'across',
      dag: { nodes: [exact('long', 0.25, 7000)] },
    });
    const result = await runOutcome(across);
    assert.equal(result.status, 'COMPLETED');
    const after = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'periodic');
        return s.archivedPeriods.length >= 1 && s.runsInFlight.length === 0 ? s : undefined;
      },
      { what: 'a rollover' },
    );
    const archived = after.archivedPeriods[0]!;
    assert.equal(archived.spentUsd, 0.5);
    assert.deepEqual(archived.spendByCategory, { compute: 0.5 });
    assert.equal(Date.parse(archived.end) - Date.parse(archived.start), 6000, 'a six-second period');
    assert.equal(after.spentUsd, 0.25, 'the run in flight at the boundary is charged to the new period');
  });
});
