import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { createAdosWorkers, runAdosWorkers } from '../../workers/ados-worker';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { deliveryRun, progressQuery } from '../../workflows/delivery-run';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/policy/ids';
import { DeliveryPriorityKey, DeliveryStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { eventually, micros, startTestEnv, type TestEnv } from '../helpers/temporal';

/**
 * The workflow code of ADOS 0.1.0 (the last release before admission tickets), bundled once and
 * kept as a fixture: runs and a tenant entity started on it must finish on today's code.
 */
const V0_1_BUNDLE = {
  code: gunzipSync(readFileSync(join(__dirname, '..', 'fixtures', 'bundles', 'workflows-0.1.0.js.gz'))).toString(
    'utf8',
  ),
};

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

/** Workers of one version: the control worker on the given workflow code, node workers as usual. */
async function workersOn(workflowBundle: { code: string }) {
  const workers = await createAdosWorkers({
    connection: env.connection,
    workflowBundle,
    clientAddress: env.address,
    identity: 'versioning',
  });
  const done = runAdosWorkers(workers);
  return async () => {
    for (const w of workers) w.shutdown();
    await done;
  };
}

describe('upgrading workers with runs in flight', () => {
  test("runs started on 0.1.0's workflow code finish on today's, charged exactly; the entity carries on and admits new runs by ticket", async () => {
    const stopOld = await workersOn(V0_1_BUNDLE);
    await configureTenant(env.client, 'upgrade', { budgetUsd: 10, maxConcurrentRuns: 3, backpressureThreshold: 1 });
    const costs = [0.011, 0.022, 0.033];
    const handles: WorkflowHandle<typeof deliveryRun>[] = [];
    // Four runs for three slots, started the way 0.1.0's client started them: one input, no launch.
    for (let i = 0; i < 4; i++) {
      const input = {
        tenantId: 'upgrade',
        runId: `old-${i}`,
        dag: {
          nodes: costs.map((costUsd, n) => ({
            id: `s${n}`,
            kind: 'util.sleep',
            params: { ms: 1200, costUsd },
            ...(n > 0 ? { deps: [`s${n - 1}`] } : {}),
          })),
        },
      };
      handles.push(
        await env.client.workflow.start(deliveryRun, {
          workflowId: deliveryRunWorkflowId('upgrade', input.runId),
          taskQueue: CONTROL_TASK_QUEUE,
          args: [input],
          typedSearchAttributes: [
            { key: TenantIdKey, value: 'upgrade' },
            { key: DeliveryStatusKey, value: 'ADMITTING' },
            { key: DeliveryPriorityKey, value: 3 },
          ],
        }),
      );
    }
    let stopNew: (() => Promise<void>) | undefined;
    try {
      // Switch versions while every admitted run is between nodes and the fourth still waits.
      const progress = await eventually(
        async () => {
          const p = await Promise.all(handles.map((h) => h.query(progressQuery)));
          return p.filter((r) => r.nodes.s0?.status === 'COMPLETED').length === 3 ? p : undefined;
        },
        { what: 'first nodes done on 0.1.0', timeoutMs: 60_000 },
      );
      assert.deepEqual(progress.map((p) => p.status).sort(), ['RUNNING', 'RUNNING', 'RUNNING', 'WAITING']);
      await stopOld();
      stopNew = await env.startWorkers();
      const results = await Promise.all(handles.map(runOutcome));
      assert.deepEqual(
        results.map((r) => r.status),
        ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'],
      );
      for (const r of results) assert.equal(micros(r.costUsd), micros(0.066), `${r.runId} cost the sum of its nodes`);

      // The entity started on 0.1.0 takes a run admitted before start (a ticket) on today's code.
      const fresh = await runOutcome(
        await startRun(env.client, {
          tenantId: 'upgrade',
          runId: 'new-0',
          dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.005 } }] },
        }),
      );
      assert.equal(fresh.status, 'COMPLETED');
      const status = await eventually(async () => {
        const s = await tenantStatus(env.client, 'upgrade');
        return s.runsInFlight.length === 0 ? s : undefined;
      });
      assert.equal(micros(status.spentUsd), micros(4 * 0.066 + 0.005), 'every node charged once, across the switch');
      assert.equal(status.reservedUsd, 0);
    } finally {
      await (stopNew ?? stopOld)();
    }
  });
});
