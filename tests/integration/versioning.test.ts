import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { progressQuery } from '../../workflows/delivery-run';
import { V0_1_BUNDLE, startRunsAs0_1, workersOn } from '../../testkit/upgrade';
import { eventually, micros, startTestEnv, type TestEnv } from '../../testkit/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

/** Workers of one version: the control worker on the given workflow code, node workers as usual. */
describe('upgrading workers with runs in flight', () => {
  test("runs started on 0.1.0's workflow code finish on today's, charged exactly; the entity carries on and admits new runs by ticket", async () => {
    const stopOld = await workersOn(V0_1_BUNDLE, {
      connection: env.connection,
      clientAddress: env.address,
      identity: 'versioning',
    });
    await configureTenant(env.client, 'upgrade', { budgetUsd: 10, maxConcurrentRuns: 3, backpressureThreshold: 1 });
    const costs = [0.011, 0.022, 0.033];
    // Four runs for three slots, started the way 0.1.0's client started them: one input, no launch.
    const handles = await startRunsAs0_1(env.client, 'upgrade', { count: 4, costs, ms: 1200 });
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
