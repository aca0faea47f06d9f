import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import type { deliveryRun } from '../../workflows';
import { testApi } from '../../testkit/api';
import { spawnAdosApi, stopChild } from '../../testkit/processes';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

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

/** An API process of its own (a starter of its own), admitting from blocks of `blockSeconds`. */
const apiProcess = (blockSeconds: number) =>
  spawnAdosApi({
    ...process.env,
    TEMPORAL_ADDRESS: env.address,
    ADOS_ADMIN_TOKEN: ADMIN,
    ADOS_ADMISSION_BLOCK_SECONDS: String(blockSeconds),
  });

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
    const { child: api, url } = await apiProcess(5);
    try {
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

  test("a hot tenant's load moves from one API process to another: the entity hands the slots over, within the tenant's limit, and spend is exact", async () => {
    const limit = 40;
    await configureTenant(env.client, 'moving', { budgetUsd: 10, maxConcurrentRuns: limit, backpressureThreshold: 1 });
    const [a, b] = [await apiProcess(30), await apiProcess(30)];
    const samples: Array<{ phase: 'A' | 'B'; t: number; a: number; b: number; inFlight: number }> = [];
    let phase: 'A' | 'B' = 'A';
    let phaseBegan = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await tenantStatus(env.client, 'moving');
        const held = (starter: string) =>
          (s.admissionBlocks ?? []).filter((x) => x.starter === starter).reduce((n, x) => n + x.slots, 0);
        const t = Date.now() - phaseBegan;
        samples.push({ phase, t, a: held(a.starter), b: held(b.starter), inFlight: s.runsInFlight.length });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    /** `clients` loops posting one-node runs to `url` for `ms`, each run 100 ms apart: below the limit. */
    const load = async (url: string, prefix: string, ms: number, clients = 3) => {
      const began = Date.now();
      const runs: Array<{ id: string; at: number }> = [];
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let i = 0; Date.now() - began < ms; i++) {
            const at = Date.now() - began;
            const { status, body } = await post(url, 'moving', `${prefix}-${c}-${i}`, oneNode(300, 0.01));
            assert.equal(status, 202, JSON.stringify(body));
            runs.push({ id: body.workflowId, at });
            await new Promise((r) => setTimeout(r, 100));
          }
        }),
      );
      return runs;
    };
    try {
      phaseBegan = Date.now();
      const fromA = await load(a.url, 'a', 4_000);
      [phase, phaseBegan] = ['B', Date.now()];
      const fromB = await load(b.url, 'b', 10_000);
      sampling = false;
      await sampler;
      const handles = [...fromA, ...fromB].map((r) => env.client.workflow.getHandle<typeof deliveryRun>(r.id));
      const results = await Promise.all(handles.map(runOutcome));
      assert.ok(
        results.every((r) => r.status === 'COMPLETED'),
        JSON.stringify(results.filter((r) => r.status !== 'COMPLETED')),
      );
      // The slots moved with the load: A's blocks went back once it was idle (2 s after its last
      // start, then one message), while B's load went on, and B's blocks took their place. When
      // depends on the machine: 0.2-4.4 s into B's load here with two cores kept busy, over 7 s once
      // on a CI machine (before a refill counted as idle from the block it replaced). B's load lasts 10 s.
      const early = samples.filter((x) => x.phase === 'A' && x.t >= 1_000);
      const inB = samples.filter((x) => x.phase === 'B');
      assert.ok(
        early.some((x) => x.a > 0 && x.b === 0),
        `A held blocks while it had the load: ${JSON.stringify(early)}`,
      );
      let aLastHeld = -1;
      inB.forEach((x, i) => (aLastHeld = x.a > 0 ? i : aLastHeld));
      const afterA = inB.slice(aLastHeld + 1);
      const aGoneAt = afterA[0]?.t ?? Infinity;
      assert.ok(
        aGoneAt <= 10_000 - 1_500 && afterA.some((x) => x.b > 0),
        `A's blocks went back with B's load still going (at ${aGoneAt} ms of 10,000), and B held blocks after: ${JSON.stringify(inB)}`,
      );
      // Never more held than the tenant's limit, in runs reported and block slots together.
      for (const x of samples) assert.ok(x.inFlight + x.a + x.b <= limit, JSON.stringify(x));
      // Once A's idle block went back (idle for 2 s, then its next report), B's runs came from B's own blocks.
      const blockOf = async (id: string) =>
        (await env.client.workflow.getHandle(id).describe()).searchAttributes.AdmissionBlock?.[0] as string | undefined;
      const settled = fromB.filter((r) => r.at >= aGoneAt);
      const own = (await Promise.all(settled.map((r) => blockOf(r.id)))).filter((x) =>
        x?.startsWith(`${b.starter}.`),
      ).length;
      // Most, not all: a start that finds its block spent while the refill is out is admitted by the
      // entity, as every start is without blocks (44 of 55 on a busy CI machine, all of them here).
      assert.ok(own >= settled.length * 0.6, `${own} of ${settled.length} of B's later runs from B's blocks`);
      await Promise.all([stopChild(a.child, 'SIGTERM'), stopChild(b.child, 'SIGTERM')]);
      const status = await eventually(
        async () => {
          const s = await tenantStatus(env.client, 'moving');
          return s.runsInFlight.length === 0 && (s.admissionBlocks ?? []).length === 0 ? s : undefined;
        },
        { what: 'every run released and every block handed back' },
      );
      const charged = results.reduce((sum, r) => sum + micros(r.costUsd), 0);
      assert.equal(micros(status.spentUsd), charged);
      assert.equal(charged, micros(0.01) * results.length);
      assert.equal(status.reservedUsd, 0);
    } finally {
      sampling = false;
      await sampler;
      await Promise.all([stopChild(a.child, 'SIGKILL'), stopChild(b.child, 'SIGKILL')]);
    }
  });
});
