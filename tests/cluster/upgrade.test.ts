import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { configureTenant, connectClient, runOutcome, tenantStatus } from '../../api/client';
import { temporalTarget } from '../../infra/temporal-connection';
import { connectWorker } from '../../infra/worker-connection';
import { bundleWorkflows } from '../../workers/ados-worker';
import { progressQuery } from '../../workflows/delivery-run';
import { V0_1_BUNDLE, startRunsAs0_1, workersOn } from '../../testkit/upgrade';
import { eventually, micros, quietRuntime } from '../../testkit/temporal';

/**
 * A rolling upgrade on the cluster: runs in flight on ADOS 0.1.0's workflow code (its bundle is a
 * fixture), the workers stopped between nodes, today's workers started. docs/VERSIONING.md says how
 * the changed deliveryRun is guarded (`patched`).
 */
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

describe('an upgrade with runs in flight, on the cluster', () => {
  test("runs started on 0.1.0's code, workers stopped mid-run, finish on today's workers, charged exactly", async () => {
    const stopOld = await workersOn(V0_1_BUNDLE, { connection, identity: 'cluster-upgrade' });
    await configureTenant(client, 'upgrade', { budgetUsd: 10, maxConcurrentRuns: 4, backpressureThreshold: 1 });
    const costs = [0.011, 0.022, 0.033];
    const handles = await startRunsAs0_1(client, 'upgrade', { count: 4, costs, ms: 1500 });
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
      stopNew = await workersOn(await bundleWorkflows(), { connection, identity: 'cluster-upgrade' });
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
