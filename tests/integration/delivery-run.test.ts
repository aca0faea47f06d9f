import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { configureTenant, runHandle, runOutcome, startRun, tenantStatus } from '../../api/client';
import { deliveryRun, progressQuery } from '../../workflows/delivery-run';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/domain/ids';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { registerNodeKind } from '../../activities/nodes/registry';
import { wordCount } from '../../examples/word-count-kind';
import { eventually, micros, startTestEnv, type TestEnv } from '../../testkit/temporal';

// A user's own node kind, registered the documented way before the workers start.
registerNodeKind(wordCount);

let env: TestEnv;
let stopWorkers: () => Promise<void>;

before(async () => {
  env = await startTestEnv();
  stopWorkers = await env.startWorkers();
  await configureTenant(env.client, 'acme', { budgetUsd: 100, maxConcurrentRuns: 10 });
});

after(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

const sleep = (id: string, ms: number, costUsd: number, deps: string[] = [], extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'util.sleep',
  deps,
  params: { ms, costUsd },
  ...extra,
});

function ms(iso: string | undefined): number {
  assert.ok(iso, 'timestamp present');
  return Date.parse(iso);
}

describe('deliveryRun', () => {
  test('a diamond DAG runs in dependency order, its middle nodes in parallel', async () => {
    const handle = await startRun(env.client, {
      tenantId: 'acme',
      runId: 'diamond',
      maxParallelism: 4,
      dag: {
        name: 'diamond',
        nodes: [
          sleep('a', 200, 0.01),
          sleep('b', 1500, 0.02, ['a']),
          sleep('c', 1500, 0.03, ['a']),
          sleep('d', 100, 0.04, ['b', 'c']),
        ],
      },
    });
    const result = await runOutcome(handle);
    assert.equal(result.status, 'COMPLETED');
    const n = result.nodes;
    assert.ok(ms(n.b!.startedAt) >= ms(n.a!.endedAt), 'b starts after a ends');
    assert.ok(ms(n.c!.startedAt) >= ms(n.a!.endedAt), 'c starts after a ends');
    assert.ok(ms(n.b!.startedAt) < ms(n.c!.endedAt) && ms(n.c!.startedAt) < ms(n.b!.endedAt), 'b and c overlap');
    assert.ok(ms(n.d!.startedAt) >= Math.max(ms(n.b!.endedAt), ms(n.c!.endedAt)), 'd starts after b and c end');
    assert.equal(micros(result.costUsd), micros(0.01) + micros(0.02) + micros(0.03) + micros(0.04));
  });

  test('maxParallelism 1 runs ready nodes one at a time, most urgent first, then in declaration order', async () => {
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'acme',
        runId: 'serial',
        maxParallelism: 1,
        priority: 3,
        dag: {
          nodes: [
            sleep('root', 10, 0),
            sleep('late', 10, 0, ['root']),
            sleep('urgent', 10, 0, ['root'], { priority: 1 }),
            sleep('second', 10, 0, ['root']),
          ],
        },
      }),
    );
    const order = Object.entries(result.nodes)
      .sort(([, x], [, y]) => ms(x.startedAt) - ms(y.startedAt))
      .map(([id]) => id);
    assert.deepEqual(order, ['root', 'urgent', 'late', 'second']);
    const spans = Object.values(result.nodes)
      .map((r) => [ms(r.startedAt), ms(r.endedAt)] as const)
      .sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], 'no two nodes overlap');
  });

  test('a cyclic DAG fails at once, non-retryably, with the cycle in the message', async () => {
    const started = Date.now();
    // Straight through Temporal, as the Temporal CLI would, bypassing the client's own check.
    const handle = await env.client.workflow.start(deliveryRun, {
      workflowId: deliveryRunWorkflowId('acme', 'cyclic'),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [
        {
          tenantId: 'acme',
          dag: {
            nodes: [
              { id: 'a', kind: 'util.sleep', deps: ['b'] },
              { id: 'b', kind: 'util.sleep', deps: ['a'] },
              { id: 'c', kind: 'no.such_kind' },
            ],
          },
        } as never,
      ],
    });
    const err = await handle.result().then(
      () => assert.fail('a cyclic run must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidDeliveryInput');
    assert.equal(err.cause.nonRetryable, true);
    assert.match(err.cause.message, /cycle: (a -> b -> a|b -> a -> b)/);
    assert.match(err.cause.message, /node c has unknown kind no\.such_kind/);
    assert.ok(Date.now() - started < 10_000, 'fails within seconds');
    const description = await handle.describe();
    assert.equal(description.status.name, 'FAILED');
    const history = await handle.fetchHistory();
    assert.equal(
      history.events!.filter((e) => e.workflowTaskFailedEventAttributes).length,
      0,
      'no workflow task failed and retried',
    );
    assert.equal(history.events!.filter((e) => e.activityTaskScheduledEventAttributes).length, 0, 'no node ran');
  });

  test('a node that fails twice and then succeeds completes on its third attempt', async () => {
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'acme',
        runId: 'flaky',
        dag: {
          nodes: [
            {
              id: 'flaky',
              kind: 'util.fail',
              params: { times: 2, costUsd: 0.005 },
              retry: { maximumAttempts: 5, initialIntervalMs: 100 },
            },
          ],
        },
      }),
    );
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.nodes.flaky!.attempts, 3);
    assert.equal(micros(result.costUsd), micros(0.005));
  });

  test("a critical node's final failure cancels in-flight nodes and ends the run FAILED", async () => {
    const handle = await startRun(env.client, {
      tenantId: 'acme',
      runId: 'critical-failure',
      dag: {
        nodes: [
          {
            id: 'broken',
            kind: 'util.fail',
            params: { times: 10 },
            retry: { maximumAttempts: 2, initialIntervalMs: 100 },
          },
          sleep('slow', 60_000, 1),
          sleep('after', 10, 0, ['broken']),
        ],
      },
    });
    const started = Date.now();
    const result = await runOutcome(handle);
    assert.ok(Date.now() - started < 30_000, 'does not wait for the slow node');
    assert.equal(result.status, 'FAILED');
    assert.equal(result.nodes.broken!.status, 'FAILED');
    assert.equal(result.nodes.broken!.attempts, 2);
    assert.equal(result.nodes.slow!.status, 'CANCELLED');
    assert.equal(result.nodes.after!.status, 'SKIPPED');
    assert.match(result.reason ?? '', /critical node broken failed/);
    const err = await handle.result().catch((e: unknown) => e);
    assert.ok(
      err instanceof WorkflowFailedError &&
        err.cause instanceof ApplicationFailure &&
        err.cause.type === 'CriticalNodeFailed',
    );
    const history = await handle.fetchHistory();
    assert.ok(
      history.events!.some((e) => e.activityTaskCancelRequestedEventAttributes),
      'the slow activity was asked to cancel',
    );
  });

  test("a non-critical node's failure is recorded and its dependents still run", async () => {
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'acme',
        runId: 'non-critical',
        dag: {
          nodes: [
            { id: 'optional', kind: 'util.fail', critical: false, params: { always: true } },
            sleep('downstream', 10, 0.001, ['optional']),
          ],
        },
      }),
    );
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.nodes.optional!.status, 'FAILED');
    assert.match(result.nodes.optional!.error ?? '', /always fails/);
    assert.equal(result.nodes.optional!.attempts, 1, 'a non-retryable failure is not retried');
    assert.equal(result.nodes.downstream!.status, 'COMPLETED');
  });

  test('a cancelled run ends CANCELLED, its in-flight node cancelled and its slot released', async () => {
    const handle = await startRun(env.client, {
      tenantId: 'acme',
      runId: 'to-cancel',
      dag: { nodes: [sleep('quick', 10, 0.002), sleep('long', 120_000, 5, ['quick'])] },
    });
    await eventually(async () => (await handle.query(progressQuery)).nodes.long?.status === 'RUNNING' || undefined, {
      what: 'the long node to start',
    });
    assert.ok((await tenantStatus(env.client, 'acme')).runsInFlight.some((r) => r.runId === 'to-cancel'));
    await handle.cancel();
    const result = await runOutcome(handle);
    assert.equal(result.status, 'CANCELLED');
    assert.equal(result.nodes.quick!.status, 'COMPLETED');
    assert.equal(result.nodes.long!.status, 'CANCELLED');
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    await eventually(
      async () =>
        !(await tenantStatus(env.client, 'acme')).runsInFlight.some((r) => r.runId === 'to-cancel') || undefined,
      { what: 'the slot to be released' },
    );
  });

  test('a run of an unknown tenant ends REJECTED with the reason', async () => {
    const result = await runOutcome(
      await startRun(env.client, { tenantId: 'nobody', runId: 'r1', dag: { nodes: [sleep('a', 10, 1)] } }),
    );
    assert.equal(result.status, 'REJECTED');
    assert.match(result.reason ?? '', /unknown tenant nobody/);
    assert.equal(result.nodes.a!.status, 'SKIPPED');
    assert.equal(result.costUsd, 0);
  });

  test('at most maxConcurrentRuns runs of a tenant are in flight; the others wait, visibly, then run', async () => {
    // Backpressure 1: one run of one allowed is full, not over the threshold, so nothing degrades.
    await configureTenant(env.client, 'tiny', { budgetUsd: 10, maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const first = await startRun(env.client, {
      tenantId: 'tiny',
      runId: 'first',
      dag: { nodes: [sleep('a', 2500, 0.01)] },
    });
    await eventually(async () => ((await first.query(progressQuery)).status === 'RUNNING' ? true : undefined), {
      what: 'first to run',
    });
    const second = await startRun(env.client, {
      tenantId: 'tiny',
      runId: 'second',
      dag: { nodes: [sleep('a', 10, 0.01)] },
    });
    const waiting = await eventually(
      async () => {
        const p = await second.query(progressQuery);
        return p.status === 'WAITING' ? p : undefined;
      },
      { what: 'second to wait' },
    );
    assert.equal(waiting.queuePosition, 1);
    const tenant = await tenantStatus(env.client, 'tiny');
    assert.deepEqual(
      tenant.runsInFlight.map((r) => r.runId),
      ['first'],
    );
    assert.deepEqual(
      tenant.runsWaiting.map((r) => r.runId),
      ['second'],
    );
    const [a, b] = await Promise.all([runOutcome(first), runOutcome(second)]);
    assert.equal(a.status, 'COMPLETED');
    assert.equal(b.status, 'COMPLETED');
    assert.ok(ms(b.nodes.a!.startedAt) >= ms(a.nodes.a!.endedAt), 'the second run starts after the first ends');
  });

  test('spend is recorded by category, once per node, and the status query reports it', async () => {
    await configureTenant(env.client, 'ledger', { budgetUsd: 1 });
    const result: DeliveryRunResult = await runOutcome(
      await startRun(env.client, {
        tenantId: 'ledger',
        runId: 'rag',
        dag: {
          nodes: [
            {
              id: 'retrieve',
              kind: 'retrieval.search',
              params: { query: 'how is cost counted exactly once', top_k: 3 },
            },
            {
              id: 'generate',
              kind: 'llm.generate',
              deps: ['retrieve'],
              params: { model: 'gpt-4o-mini', num_candidates: 2 },
            },
            { id: 'rerank', kind: 'rerank', deps: ['generate'] },
            { id: 'evaluate', kind: 'eval.score', deps: ['rerank'] },
            sleep('compute', 10, 0.25),
          ],
        },
      }),
    );
    assert.equal(result.status, 'COMPLETED');
    const status = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'ledger');
        return s.chargedEvents === 5 ? s : undefined;
      },
      { what: 'five cost events' },
    );
    assert.deepEqual(Object.keys(status.spendByCategory).sort(), [
      'compute',
      'evaluation',
      'llm',
      'rerank',
      'retrieval',
    ]);
    const nodeMicros = Object.values(result.nodes).reduce((s, n) => s + micros(n.costUsd), 0);
    assert.equal(micros(status.spentUsd), nodeMicros);
    assert.equal(micros(result.costUsd), nodeMicros);
    assert.equal(status.budgetStatus, 'HEALTHY');
    assert.ok(status.utilization > 0.25 && status.utilization < 0.3);
    assert.equal(result.nodes.generate!.model, 'gpt-4o-mini');
  });

  test("a user's own registered node kind runs like a built-in one", async () => {
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'acme',
        runId: 'custom-kind',
        dag: { nodes: [{ id: 'count', kind: 'example.word_count', params: { text: 'one two three four' } }] },
      }),
    );
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.nodes.count!.category, 'compute');
    assert.equal(micros(result.costUsd), 4);
  });

  test('a run sets its search attributes, and a tenant filter finds it', async () => {
    await runOutcome(
      await startRun(env.client, {
        tenantId: 'acme',
        runId: 'visible',
        priority: 2,
        dag: { nodes: [sleep('a', 10, 0.5)] },
      }),
    );
    const description = await runHandle(env.client, 'acme', 'visible').describe();
    const sa = description.searchAttributes as Record<string, unknown[]>;
    assert.deepEqual(sa.TenantId, ['acme']);
    assert.deepEqual(sa.DeliveryStatus, ['COMPLETED']);
    assert.deepEqual(sa.DeliveryPriority, [2]);
    assert.deepEqual(sa.DeliveryCostUsd, [0.5]);
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of env.client.workflow.list({
          query: `TenantId = 'acme' AND DeliveryStatus = 'COMPLETED' AND DeliveryPriority = 2`,
        }))
          ids.push(wf.workflowId);
        return ids.includes(deliveryRunWorkflowId('acme', 'visible')) ? ids : undefined;
      },
      { what: 'visibility to list the run' },
    );
    assert.ok(found.length >= 1);
  });
});
