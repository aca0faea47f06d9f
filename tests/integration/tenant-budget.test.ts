import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { configureTenant, runOutcome, startRun, tenantStatus, UserError } from '../../api/client';
import { configureTenantUpdate } from '../../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

describe('tenantBudget', () => {
  test('tenant set creates a tenant with defaults and later changes only the given fields', async () => {
    const created = await configureTenant(env.client, 'configured', { budgetUsd: 12 });
    assert.equal(created.budgetUsd, 12);
    assert.equal(created.config.maxConcurrentRuns, 10);
    assert.equal(created.config.period, 'monthly');
    const changed = await configureTenant(env.client, 'configured', { maxConcurrentRuns: 3 });
    assert.equal(changed.budgetUsd, 12, 'budget kept');
    assert.equal(changed.config.maxConcurrentRuns, 3);
    assert.deepEqual((await tenantStatus(env.client, 'configured')).config, changed.config);
  });

  test('bad config is refused with the field named, and nothing already accepted is lost', async () => {
    await configureTenant(env.client, 'strict', { budgetUsd: 7 });
    await assert.rejects(
      configureTenant(env.client, 'strict', { budgetUsd: -1 }),
      (err: unknown) => err instanceof UserError && /budgetUsd/.test(err.message),
    );
    // Past the client's own check, the entity's update validator refuses it before it enters history.
    const handle = env.client.workflow.getHandle(tenantBudgetWorkflowId('strict'));
    await assert.rejects(
      handle.executeUpdate(configureTenantUpdate, { args: [{ maxConcurrentRuns: 0 }] }),
      (err: unknown) =>
        err instanceof WorkflowUpdateFailedError && /maxConcurrentRuns/.test(String(err.cause?.message)),
    );
    // A patch valid on its own but not over the current config (warning above the critical already set).
    await configureTenant(env.client, 'strict', { thresholds: { warning: 0.3, critical: 0.5 } });
    await assert.rejects(
      configureTenant(env.client, 'strict', { thresholds: { warning: 0.6 } }),
      (err: unknown) =>
        err instanceof UserError && err.code === 'INVALID_INPUT' && /warning must be below critical/.test(err.message),
    );
    const history = await handle.fetchHistory();
    assert.equal(
      history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length,
      2,
      'only the valid updates were accepted',
    );
    const status = await tenantStatus(env.client, 'strict');
    assert.equal(status.budgetUsd, 7);
    assert.equal(status.config.maxConcurrentRuns, 10);
  });

  test('the entity continues-as-new under load and loses no message doing so', async () => {
    // Room for a quarter of the runs: the rest queue by signal, so admissions, answers, costs and releases all cross the rollover.
    await configureTenant(env.client, 'rollover', { budgetUsd: 100, maxConcurrentRuns: 15, backpressureThreshold: 1 });
    const firstRunId = (await env.client.workflow.getHandle(tenantBudgetWorkflowId('rollover')).describe()).runId;
    const runs = 60;
    const nodesPerRun = 5;
    const handles = await Promise.all(
      Array.from({ length: runs }, (_, r) =>
        startRun(env.client, {
          tenantId: 'rollover',
          runId: `load-${r}`,
          maxParallelism: 5,
          dag: {
            nodes: Array.from({ length: nodesPerRun }, (_, i) => ({
              id: `n${i}`,
              kind: 'util.sleep',
              params: { ms: 0, costUsd: 0.001 + r * 0.0001 },
            })),
          },
        }),
      ),
    );
    const results = await Promise.all(handles.map(runOutcome));
    assert.deepEqual([...new Set(results.map((r) => r.status))], ['COMPLETED']);
    const expected = results.reduce((s, r) => s + micros(r.costUsd), 0);
    const status = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'rollover');
        return s.chargedEvents === runs * nodesPerRun && s.runsInFlight.length === 0 ? s : undefined;
      },
      { what: 'every cost event and release' },
    );
    assert.equal(micros(status.spentUsd), expected);
    assert.equal(status.reservedUsd, 0, 'every reservation returned');
    const first = env.client.workflow.getHandle(tenantBudgetWorkflowId('rollover'), firstRunId);
    const firstHistory = await first.fetchHistory();
    assert.ok(
      firstHistory.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes,
      'the first run of the entity continued as new',
    );
    assert.notEqual(
      (await env.client.workflow.getHandle(tenantBudgetWorkflowId('rollover')).describe()).runId,
      firstRunId,
    );
  });

  test('a repeated cost event is charged once', async () => {
    await configureTenant(env.client, 'idempotent', { budgetUsd: 10 });
    const handle = env.client.workflow.getHandle(tenantBudgetWorkflowId('idempotent'));
    const { recordCostsSignal } = await import('../../workflows/messages/tenant-budget');
    const event = { key: 'r1/n1', runId: 'r1', nodeId: 'n1', category: 'llm' as const, costMicros: 1234 };
    await handle.signal(recordCostsSignal, { events: [event, event] });
    await handle.signal(recordCostsSignal, { events: [event, { ...event, key: 'r1/n2', nodeId: 'n2' }] });
    const status = await eventually(async () => {
      const s = await tenantStatus(env.client, 'idempotent');
      return s.chargedEvents === 2 ? s : undefined;
    });
    assert.equal(micros(status.spentUsd), 2468);
    assert.deepEqual(status.spendByCategory, { llm: 0.002468 });
  });
});
