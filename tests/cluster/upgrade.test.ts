import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { configureTenant, connectClient, runOutcome, tenantStatus } from '../../api/client';
import { connectWorker, temporalTarget } from '../../infra/temporal-connection';
import { bundleWorkflows, createAdosWorkers, runAdosWorkers } from '../../workers/ados-worker';
import { deliveryRun, progressQuery } from '../../workflows/delivery-run';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/policy/ids';
import { DeliveryPriorityKey, DeliveryStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { eventually, micros, quietRuntime } from '../helpers/temporal';

/**
 * A rolling upgrade on the cluster: runs in flight on ADOS 0.1.0's workflow code (its bundle is a
 * fixture), the workers stopped between nodes, today's workers started. docs/VERSIONING.md says how
 * the changed deliveryRun is guarded (`patched`).
 */
const V0_1_BUNDLE = {
  code: gunzipSync(readFileSync(join(__dirname, '..', 'fixtures', 'bundles', 'workflows-0.1.0.js.gz'))).toString(
    'utf8',
  ),
};

let client: Client;
let connection: NativeConnection;
before(async () => {
  quietRuntime();
  client = await connectClient();
  connection = await connectWorker(temporalTarget());
});
after(async () => {
  await client?.connection.close();
  await connection?.close();
});

async function workersOn(workflowBundle: { code: string }) {
  const workers = await createAdosWorkers({ connection, workflowBundle, identity: 'cluster-upgrade' });
  const done = runAdosWorkers(workers);
  return async () => {
    for (const w of workers) w.shutdown();
    await done;
  };
}

describe('an upgrade with runs in flight, on the cluster', () => {
  test("runs started on 0.1.0's code, workers stopped mid-run, finish on today's workers, charged exactly", async () => {
    const stopOld = await workersOn(V0_1_BUNDLE);
    await configureTenant(client, 'upgrade', { budgetUsd: 10, maxConcurrentRuns: 4, backpressureThreshold: 1 });
    const costs = [0.011, 0.022, 0.033];
    const handles: WorkflowHandle<typeof deliveryRun>[] = [];
    for (let i = 0; i < 4; i++) {
      const input = {
        tenantId: 'upgrade',
        runId: `old-${i}`,
        dag: {
          nodes: costs.map((costUsd, n) => ({
            id: `s${n}`,
            kind: 'util.sleep',
            params: { ms: 1500, costUsd },
            ...(n > 0 ? { deps: [`s${n - 1}`] } : {}),
          })),
        },
      };
      handles.push(
        await client.workflow.start(deliveryRun, {
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
      await eventually(
        async () => {
          const p = await Promise.all(handles.map((h) => h.query(progressQuery)));
          return p.every((r) => r.nodes.s0?.status === 'COMPLETED') || undefined;
        },
        { what: 'first nodes done on 0.1.0', timeoutMs: 60_000 },
      );
      await stopOld();
      // Today's workflow code, bundled as `ados worker` bundles it.
      stopNew = await workersOn(await bundleWorkflows());
      const results = await Promise.all(handles.map(runOutcome));
      assert.deepEqual(
        results.map((r) => r.status),
        Array(4).fill('COMPLETED'),
      );
      for (const r of results) assert.equal(micros(r.costUsd), micros(0.066), `${r.runId} cost the sum of its nodes`);
      const status = await eventually(async () => {
        const s = await tenantStatus(client, 'upgrade');
        return s.runsInFlight.length === 0 ? s : undefined;
      });
      assert.equal(micros(status.spentUsd), 4 * micros(0.066));
    } finally {
      await (stopNew ?? stopOld)();
    }
  });
});
