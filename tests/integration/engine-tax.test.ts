import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { GOVERNED_CHAIN5, PLAIN_CHAIN5, PLAIN_QUEUED_CHAIN5, chain5 } from '../../testkit/workloads';
import { deliveryRun } from '../../workflows/delivery-run';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId, tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import { tenantStatusQuery } from '../../workflows/messages/tenant-budget';
import { eventually, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

async function history(workflowId: string, runId?: string) {
  return (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

describe('the engine tax', () => {
  test(`a governed chain5 run's own history is ${GOVERNED_CHAIN5.runEvents} events (bare Temporal: ${GOVERNED_CHAIN5.bareEvents}), starts no workflow, sends no message, and costs its entity two (its admission and its release)`, async () => {
    await configureTenant(env.client, 'taxed', { budgetUsd: 10, learning: { intensity: 'CONSERVATIVE' } });
    const entity = env.client.workflow.getHandle(tenantBudgetWorkflowId('taxed'));
    const { runId: entityRunId } = await entity.describe();
    const before = (await history(entity.workflowId, entityRunId)).length;

    const handle = await startRun(env.client, {
      tenantId: 'taxed',
      runId: 'chain5',
      maxParallelism: 8,
      dag: { name: 'chain5', nodes: chain5() },
    });
    assert.equal((await runOutcome(handle)).status, 'COMPLETED');
    const events = await history(handle.workflowId);
    const count = (attr: string) => events.filter((e) => (e as Record<string, unknown>)[attr]).length;
    assert.equal(
      events.length,
      GOVERNED_CHAIN5.runEvents,
      `the run's history has ${events.length} events (pinned: ${GOVERNED_CHAIN5.runEvents})`,
    );
    assert.equal(count('workflowTaskCompletedEventAttributes'), GOVERNED_CHAIN5.workflowTasks, 'workflow tasks');
    assert.equal(count('markerRecordedEventAttributes'), 0, 'no local activity or patch marker');
    assert.equal(count('startChildWorkflowExecutionInitiatedEventAttributes'), 0, 'no child workflow');
    assert.equal(
      count('signalExternalWorkflowExecutionInitiatedEventAttributes'),
      0,
      'the release goes out through the worker, not from the run',
    );
    assert.equal(count('upsertWorkflowSearchAttributesEventAttributes'), 1, 'one upsert: the final status');

    // On the entity: the admission update (accepted, completed) and the release signal (sent before the run closed), each with its workflow task at most.
    const entityEvents = (await history(entity.workflowId, entityRunId)).slice(before);
    const released = await eventually(
      async () => {
        const status = await env.client.workflow.getHandle(entity.workflowId).query(tenantStatusQuery);
        return status.runsInFlight.length === 0 ? status : undefined;
      },
      { what: 'the run to give its slot back' },
    );
    assert.equal(released.chargedEvents, 5, 'with its five costs');
    const messages = entityEvents.filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes,
    ).length;
    assert.equal(messages, 2, 'one admission update and one release signal');
    assert.ok(entityEvents.length <= 9, `the entity recorded ${entityEvents.length} events for the run`);
  });

  test('runs that end together release their slots in a few signals, not one each, and every one is released with its costs', async () => {
    await configureTenant(env.client, 'released-together', {
      budgetUsd: 10,
      maxConcurrentRuns: 60,
      backpressureThreshold: 1,
      learning: { intensity: 'CONSERVATIVE' },
    });
    const entity = env.client.workflow.getHandle(tenantBudgetWorkflowId('released-together'));
    const { runId: entityRunId } = await entity.describe();
    const before = (await history(entity.workflowId, entityRunId)).length;
    const handles = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        startRun(env.client, {
          tenantId: 'released-together',
          runId: `r-${i}`,
          maxParallelism: 8,
          dag: { name: 'chain5', nodes: chain5() },
        }),
      ),
    );
    const results = await Promise.all(handles.map(runOutcome));
    assert.ok(results.every((r) => r.status === 'COMPLETED'));
    const released = await eventually(
      async () => {
        const status = await entity.query(tenantStatusQuery);
        return status.runsInFlight.length === 0 ? status : undefined;
      },
      { what: 'every run to give its slot back' },
    );
    assert.equal(released.chargedEvents, 5 * 60, 'every cost charged once');
    const signals = (await history(entity.workflowId, entityRunId))
      .slice(before)
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
      .filter((name) => name !== undefined);
    const batches = signals.filter((n) => n === 'releaseRuns').length;
    const singles = signals.filter((n) => n === 'releaseRun').length;
    assert.ok(batches > 0, `releases were batched: ${batches} releaseRuns, ${singles} releaseRun`);
    assert.ok(batches + singles < 60, `${batches + singles} release signals for 60 runs`);
  });

  test(`a chain5 run started with a plain Temporal client (no launch) costs ${PLAIN_CHAIN5.runEvents} events, its worker launching it as an ADOS starter would, and its entity the same two messages`, async () => {
    await configureTenant(env.client, 'plain', { budgetUsd: 10, learning: { intensity: 'CONSERVATIVE' } });
    const entity = env.client.workflow.getHandle(tenantBudgetWorkflowId('plain'));
    const { runId: entityRunId } = await entity.describe();
    const before = (await history(entity.workflowId, entityRunId)).length;

    // What `temporal workflow start --type deliveryRun` sends: the input, nothing else.
    const handle = await env.client.workflow.start(deliveryRun, {
      workflowId: deliveryRunWorkflowId('plain', 'chain5'),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ tenantId: 'plain', maxParallelism: 8, dag: { name: 'chain5', nodes: chain5() } }],
    });
    assert.equal((await runOutcome(handle)).status, 'COMPLETED');
    const events = await history(handle.workflowId);
    const count = (attr: string) => events.filter((e) => (e as Record<string, unknown>)[attr]).length;
    assert.equal(events.length, PLAIN_CHAIN5.runEvents, `the run's history (pinned: ${PLAIN_CHAIN5.runEvents})`);
    assert.equal(count('workflowTaskCompletedEventAttributes'), PLAIN_CHAIN5.workflowTasks, 'workflow tasks');
    assert.equal(count('markerRecordedEventAttributes'), 1, 'one marker: the settings local activity, with the launch');
    assert.equal(
      count('upsertWorkflowSearchAttributesEventAttributes'),
      2,
      'its first status (a starter sets it with the start) and its final one',
    );
    assert.equal(
      count('signalExternalWorkflowExecutionInitiatedEventAttributes'),
      0,
      'admitted by its worker, released through it',
    );
    await eventually(
      async () => ((await entity.query(tenantStatusQuery)).runsInFlight.length === 0 ? true : undefined),
      { what: 'the run to give its slot back' },
    );
    const entityEvents = (await history(entity.workflowId, entityRunId)).slice(before);
    const messages = entityEvents.filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes,
    ).length;
    assert.equal(messages, 2, 'the same admission update and release signal as an ADOS start');
    assert.ok(entityEvents.length <= 9, `the entity recorded ${entityEvents.length} events for the run`);
  });

  test(`a chain5 run started with a plain Temporal client that must wait costs ${PLAIN_QUEUED_CHAIN5.runEvents} events: its launch queues it, one signal admits it, and it sends none`, async () => {
    await configureTenant(env.client, 'plain-full', { budgetUsd: 10, maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const holder = await startRun(env.client, {
      tenantId: 'plain-full',
      runId: 'holder',
      dag: { nodes: [{ id: 'hold', kind: 'util.sleep', params: { ms: 1500, costUsd: 0.001 } }] },
    });
    const handle = await env.client.workflow.start(deliveryRun, {
      workflowId: deliveryRunWorkflowId('plain-full', 'chain5'),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ tenantId: 'plain-full', maxParallelism: 8, dag: { name: 'chain5', nodes: chain5() } }],
    });
    assert.equal((await runOutcome(handle)).status, 'COMPLETED');
    assert.equal((await runOutcome(holder)).status, 'COMPLETED');
    const events = await history(handle.workflowId);
    const count = (attr: string) => events.filter((e) => (e as Record<string, unknown>)[attr]).length;
    assert.equal(
      events.length,
      PLAIN_QUEUED_CHAIN5.runEvents,
      `the run's history (pinned: ${PLAIN_QUEUED_CHAIN5.runEvents})`,
    );
    assert.equal(count('workflowTaskCompletedEventAttributes'), PLAIN_QUEUED_CHAIN5.workflowTasks, 'workflow tasks');
    assert.equal(count('signalExternalWorkflowExecutionInitiatedEventAttributes'), 0, 'it asked nothing by signal');
    assert.equal(count('workflowExecutionSignaledEventAttributes'), 1, 'one signal in: its admission');
  });
});
