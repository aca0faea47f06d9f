import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, tenantStatus } from '../../api/client';
import { deliveryRun } from '../../workflows';
import { ADMISSION_TIMEOUT_MS } from '../../activities/admission';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId, tenantBudgetWorkflowId } from '../../workflows/policy/ids';
import { eventually, micros, sleepChain, startTestEnv, type TestEnv } from '../helpers/temporal';

/** The runs' workflow-task slots: far fewer than the runs started at once. */
const SLOTS = 5;
const TENANTS = 3;
const RUNS_PER_TENANT = 100;
const RUNS = TENANTS * RUNS_PER_TENANT;
const NODE_COST = 0.001;
/**
 * A run's five workflow tasks take well under a second of a slot each here. Were the runs to hold
 * the slots their entity needs to admit them, each slot would give one run a turn per admission
 * timeout (5 s), and the burst would take RUNS / SLOTS × 5 s = 300 s.
 */
const BOUND_MS = (RUNS / SLOTS) * 2_000;

let env: TestEnv;
let stopWorkers: () => Promise<void>;

before(async () => {
  env = await startTestEnv();
  stopWorkers = await env.startWorkers({ workflowConcurrency: SLOTS });
});

after(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);

describe('a burst beyond the workflow-task slots', () => {
  test(`${RUNS} runs started at once with a plain Temporal client, on a worker with ${SLOTS} workflow-task slots for runs, all complete within ${BOUND_MS / 1000} s, each admitted by its own launch, with spend exact`, async () => {
    const tenants = Array.from({ length: TENANTS }, (_, t) => `burst-${t}`);
    for (const tenantId of tenants)
      await configureTenant(env.client, tenantId, {
        budgetUsd: 100,
        maxConcurrentRuns: RUNS_PER_TENANT,
        backpressureThreshold: 1,
      });

    const began = Date.now();
    // What `temporal workflow start --type deliveryRun` sends, 300 times at once: the input alone.
    const handles = await Promise.all(
      Array.from({ length: RUNS }, (_, i) => {
        const tenantId = tenants[i % TENANTS]!;
        return env.client.workflow.start(deliveryRun, {
          workflowId: deliveryRunWorkflowId(tenantId, `r-${i}`),
          taskQueue: CONTROL_TASK_QUEUE,
          args: [
            {
              tenantId,
              dag: {
                name: 'chain5',
                nodes: sleepChain(
                  [0, 1, 2, 3, 4].map(() => NODE_COST),
                  0,
                ),
              },
            },
          ],
        });
      }),
    );
    // Waited for no longer than the bound: a burst that starves itself fails there, saying how far it got.
    let completed = 0;
    let timer: NodeJS.Timeout | undefined;
    const outcomes = await Promise.race([
      Promise.all(handles.map((h) => runOutcome(h).finally(() => completed++))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${completed} of ${RUNS} runs ended within ${BOUND_MS / 1000} s`)),
          BOUND_MS - (Date.now() - began),
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const tookMs = Date.now() - began;
    assert.deepEqual(
      outcomes.filter((o) => o.status !== 'COMPLETED').map((o) => `${o.runId}: ${o.status} ${o.reason ?? ''}`),
      [],
    );
    assert.ok(tookMs <= BOUND_MS, `the burst took ${tookMs} ms (bound ${BOUND_MS})`);

    // Each run's first workflow task (its launch) got its tenant's answer: none waited out the
    // admission timeout and fell back to asking by signal.
    const firstTaskMs: number[] = [];
    const askedBySignal: string[] = [];
    for (const handle of handles) {
      const events = (await handle.fetchHistory()).events ?? [];
      const started = events.find((e) => e.workflowTaskStartedEventAttributes);
      const completed = events.find((e) => e.workflowTaskCompletedEventAttributes);
      firstTaskMs.push(ms(completed?.eventTime) - ms(started?.eventTime));
      if (events.some((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes))
        askedBySignal.push(handle.workflowId);
    }
    assert.deepEqual(askedBySignal, [], 'runs whose launch heard no answer and asked by signal');
    const longest = Math.max(...firstTaskMs);
    assert.ok(longest < ADMISSION_TIMEOUT_MS, `a first workflow task held its slot ${longest} ms`);

    // Every tenant charged exactly what its runs cost, each run released.
    for (const tenantId of tenants) {
      const status = await eventually(
        async () => {
          const s = await tenantStatus(env.client, tenantId);
          return s.runsInFlight.length === 0 ? s : undefined;
        },
        { what: `${tenantId}'s runs to give their slots back` },
      );
      assert.equal(micros(status.spentUsd), RUNS_PER_TENANT * 5 * micros(NODE_COST), `${tenantId}'s spend`);
    }

    // Under the burst's steady stream of messages each entity still continued-as-new promptly
    // (this server suggests it at 150 events).
    for (const tenantId of tenants) {
      const lengths: number[] = [];
      for await (const execution of env.client.workflow.list({
        query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'`,
      }))
        lengths.push(
          (await env.client.workflow.getHandle(execution.workflowId, execution.runId).describe()).historyLength,
        );
      assert.ok(lengths.length > 1, `${tenantId}'s entity continued-as-new (${lengths.length} executions)`);
      assert.ok(Math.max(...lengths) <= 300, `${tenantId}'s entity executions' histories: ${lengths.join(', ')}`);
    }
  });
});
