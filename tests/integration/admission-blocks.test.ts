import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { tenantBudgetWorkflowId } from '../../workflows/policy/ids';
import type { deliveryRun } from '../../workflows';
import { testApi } from '../helpers/api';
import { ADOS, stopChild } from '../helpers/processes';
import { eventually, freePort, micros, useTestEnvWithWorkers } from '../helpers/temporal';

const env = useTestEnvWithWorkers();
const ADMIN = 'admin-token-for-the-blocks-test';

const oneNode = (ms: number, costUsd: number) => ({
  nodes: [{ id: 'work', kind: 'util.sleep', params: { ms, costUsd } }],
});

async function post(url: string, tenantId: string, runId: string, dag: unknown) {
  const res = await fetch(`${url}/v1/tenants/${tenantId}/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ runId, dag }),
  });
  return { status: res.status, body: (await res.json()) as { workflowId: string; status: string } };
}

/** The entity's updates by name, over all its executions. */
async function entityUpdates(tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'` })) {
    const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const name = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
      if (name) counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

describe('admission blocks', () => {
  test('the API admits a burst from blocks its tenant leased it: every run starts with its block named, spend is exact, and the blocks go back when the API stops', async () => {
    await configureTenant(env.client, 'blocks', { budgetUsd: 5, maxConcurrentRuns: 60, backpressureThreshold: 1 });
    const app = await testApi(env.client, ADMIN, { admissionBlockSeconds: 30 });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    let closed = false;
    try {
      const started = await Promise.all(
        Array.from({ length: 40 }, (_, i) => post(url, 'blocks', `b-${i}`, oneNode(200, 0.01))),
      );
      assert.deepEqual(
        started.map((s) => s.status),
        Array(40).fill(202),
      );
      const handles = started.map((s) => env.client.workflow.getHandle<typeof deliveryRun>(s.body.workflowId));
      const blocks = await Promise.all(
        handles.map(async (h) => (await h.describe()).searchAttributes.AdmissionBlock?.[0] as string | undefined),
      );
      const fromBlocks = blocks.filter((b) => b !== undefined).length;
      assert.ok(fromBlocks >= 30, `${fromBlocks} of 40 runs admitted from a block`);
      const results = await Promise.all(handles.map(runOutcome));
      assert.deepEqual(
        results.map((r) => r.status),
        Array(40).fill('COMPLETED'),
      );
      await app.close();
      closed = true;
      const status = await eventually(
        async () => {
          const s = await tenantStatus(env.client, 'blocks');
          return s.runsInFlight.length === 0 && (s.admissionBlocks ?? []).length === 0 ? s : undefined;
        },
        { what: 'every run released and every block handed back' },
      );
      assert.equal(micros(status.spentUsd), micros(0.4));
      assert.equal(status.reservedUsd, 0);
      const updates = await entityUpdates('blocks');
      // A few block exchanges instead of an admission per batch of starts.
      assert.ok((updates.leaseBlocks ?? 0) <= 10, JSON.stringify(updates));
    } finally {
      if (!closed) await app.close();
    }
  });

  test('an API holding a block is killed mid-burst: its runs complete, charged once, and the block’s slots and money come back after it expires', async () => {
    await configureTenant(env.client, 'dying', { budgetUsd: 5, maxConcurrentRuns: 30, backpressureThreshold: 1 });
    const port = await freePort();
    const api = spawn(process.execPath, [ADOS, 'api', '--port', String(port)], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        ADOS_ADMIN_TOKEN: ADMIN,
        ADOS_API_RATE_LIMIT: '1000000',
        ADOS_ADMISSION_BLOCK_SECONDS: '5',
        ADOS_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await eventually(async () => (await fetch(`${url}/healthz`)).ok || undefined, { what: 'the API to listen' });
      const started = await Promise.all(
        Array.from({ length: 10 }, (_, i) => post(url, 'dying', `d-${i}`, oneNode(4000, 0.02))),
      );
      assert.deepEqual(
        started.map((s) => s.status),
        Array(10).fill(202),
      );
      const during = await tenantStatus(env.client, 'dying');
      assert.ok((during.admissionBlocks ?? []).length > 0, 'the API holds a block');
      await stopChild(api, 'SIGKILL');
      const killedAt = Date.now();
      const results = await Promise.all(
        started.map((s) => runOutcome(env.client.workflow.getHandle<typeof deliveryRun>(s.body.workflowId))),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(10).fill('COMPLETED'),
      );
      // Expiry (5 s) + the reconciliation's grace (10 s) + its visibility lookup.
      const status = await eventually(
        async () => {
          const s = await tenantStatus(env.client, 'dying');
          return s.runsInFlight.length === 0 && (s.admissionBlocks ?? []).length === 0 ? s : undefined;
        },
        { timeoutMs: 40_000, what: 'the dead starter’s block reconciled and released' },
      );
      assert.ok(Date.now() - killedAt < 40_000);
      assert.equal(micros(status.spentUsd), micros(0.2));
      assert.equal(status.reservedUsd, 0);
      // The slots are free again: a burst of the tenant's whole limit is admitted at once.
      const again = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          startRun(env.client, { tenantId: 'dying', runId: `again-${i}`, dag: oneNode(10, 0.001) }),
        ),
      );
      assert.deepEqual(
        again.map((h) => h.admission.status),
        Array(30).fill('ADMITTED'),
      );
      await Promise.all(again.map(runOutcome));
    } finally {
      await stopChild(api, 'SIGKILL');
    }
  });
});
