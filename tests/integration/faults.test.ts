import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { configureTenant, connectClient, runOutcome, startRun, tenantStatus } from '../../api/client';
import { buildApi } from '../../api/http/app';
import { startDevServer, type DevServer } from '../../infra/dev-server';
import { createMetrics } from '../../infra/metrics/registry';
import { freePort } from '../../infra/ports';
import { progressQuery } from '../../workflows/delivery-run';
import { eventually, micros, quietRuntime, sleepChain } from '../../testkit/temporal';
import { stopChild } from '../../testkit/processes';

const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
const children = new Set<ChildProcess>();
const servers = new Set<DevServer>();

function startWorker(address: string): ChildProcess {
  const child = spawn(process.execPath, [ADOS, 'worker', '--concurrency', '8'], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, ADOS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const kill = (child: ChildProcess) => stopChild(child, 'SIGKILL');

async function server(options: { port: number; dbFile: string | null }): Promise<DevServer> {
  const s = await startDevServer({
    ...options,
    headless: true,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 },
  });
  servers.add(s);
  return s;
}

after(async () => {
  for (const child of children) await kill(child);
  for (const s of servers) await s.stop().catch(() => undefined);
});

describe('faults', () => {
  test('a worker SIGKILLed three times under load: every run completes and every tenant is charged exactly the sum of its runs', async () => {
    quietRuntime();
    const s = await server({ port: await freePort(), dbFile: null });
    const client = await connectClient(s.address);
    let worker = startWorker(s.address);
    const tenants = ['kill-a', 'kill-b'];
    for (const t of tenants)
      await configureTenant(client, t, { budgetUsd: 100, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    const handles = await Promise.all(
      tenants.flatMap((tenantId) =>
        Array.from({ length: 10 }, (_, i) =>
          startRun(client, {
            tenantId,
            runId: `load-${i}`,
            dag: { nodes: sleepChain([0.001, 0.002, 0.003], 1500) },
          }),
        ),
      ),
    );
    // Each kill lands while nodes are in flight on the worker being killed (none is left once every run has finished).
    const nodesRunning = async () => {
      let open = 0;
      for (const h of handles) {
        if ((await h.describe()).status.name !== 'RUNNING') continue;
        open++;
        const p = await h.query(progressQuery).catch(() => undefined);
        if (p && Object.values(p.nodes).some((n) => n.status === 'RUNNING')) return 'running';
      }
      return open === 0 ? 'done' : undefined;
    };
    for (let k = 0; k < 3; k++) {
      if ((await eventually(nodesRunning, { timeoutMs: 60_000, intervalMs: 100, what: 'nodes in flight' })) === 'done')
        break;
      await new Promise((r) => setTimeout(r, 300));
      await kill(worker);
      worker = startWorker(s.address);
    }
    const results = await Promise.all(handles.map(runOutcome));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set(['COMPLETED']));
    assert.ok(
      results.some((r) => Object.values(r.nodes).some((n) => n.attempts >= 2)),
      'some nodes were in flight at a kill and retried',
    );
    for (const tenantId of tenants) {
      const runs = results.filter((r) => r.tenantId === tenantId).reduce((sum, r) => sum + micros(r.costUsd), 0);
      assert.equal(runs, 10 * micros(0.006), `${tenantId}: each run's cost is its nodes' once`);
      const status = await eventually(async () => {
        const st = await tenantStatus(client, tenantId);
        return st.runsInFlight.length === 0 ? st : undefined;
      });
      assert.equal(micros(status.spentUsd), runs, `${tenantId}: spend = sum of run costs`);
    }
    await kill(worker);
    await client.connection.close();
  });

  test('a node whose worker dies is retried after its heartbeat timeout (10 s), not its 600-s start-to-close timeout', async () => {
    const s = await server({ port: await freePort(), dbFile: null });
    const client = await connectClient(s.address);
    const worker = startWorker(s.address);
    await configureTenant(client, 'heartbeat', { budgetUsd: 10 });
    const handle = await startRun(client, {
      tenantId: 'heartbeat',
      runId: 'long',
      dag: { nodes: [{ id: 'long', kind: 'util.sleep', timeoutSec: 600, params: { ms: 4000, costUsd: 0.01 } }] },
    });
    await eventually(
      async () => ((await handle.query(progressQuery)).nodes.long?.status === 'RUNNING' ? true : undefined),
      { what: 'the long node to start' },
    );
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    await kill(worker);
    const replacement = startWorker(s.address);
    const result = await runOutcome(handle);
    const tookMs = Date.now() - killedAt;
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.nodes.long?.attempts, 2);
    assert.ok(tookMs < 40_000, `retried after the heartbeat timeout: done ${tookMs} ms after the kill`);
    await kill(replacement);
    await client.connection.close();
  });

  test('the dev server stopped and restarted on its database mid-run: runs resume and complete; workers and the API reconnect', async () => {
    const port = await freePort();
    const dbFile = join(mkdtempSync(join(tmpdir(), 'ados-restart-')), 'temporal.db');
    let s = await server({ port, dbFile });
    const client = await connectClient(s.address);
    const worker = startWorker(s.address);
    const app = await buildApi({
      client,
      config: {
        ADOS_ADMIN_TOKEN: 'admin-token-for-the-restart-test',
        ADOS_API_RATE_LIMIT: 1000,
        ADOS_API_BODY_LIMIT: 65536,
        ADOS_API_TOKEN_CACHE_SECONDS: 0,
        ADOS_ARTIFACTS_DIR: process.env.ADOS_ARTIFACTS_DIR ?? 'artifacts',
      },
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
    });
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const get = () =>
        fetch(`${url}/v1/tenants/restart`, {
          headers: { authorization: 'Bearer admin-token-for-the-restart-test' },
        }).then((r) => r.status);
      await configureTenant(client, 'restart', { budgetUsd: 10, maxConcurrentRuns: 10 });
      const handles = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          startRun(client, {
            tenantId: 'restart',
            runId: `r-${i}`,
            dag: { nodes: sleepChain([0.01, 0.01, 0.01], 1000) },
          }),
        ),
      );
      await eventually(
        async () => ((await handles[0]!.query(progressQuery)).nodes.n0?.status === 'COMPLETED' ? true : undefined),
        { what: 'the first nodes to finish' },
      );
      assert.equal(await get(), 200);

      await s.stop();
      servers.delete(s);
      assert.equal(await get(), 503, 'the API says Temporal is unavailable while the server is away');
      const cancel = await fetch(`${url}/v1/tenants/restart/runs/r-0/cancel`, {
        method: 'POST',
        headers: { authorization: 'Bearer admin-token-for-the-restart-test' },
      });
      assert.equal(cancel.status, 503, 'a cancel cannot tell whether the run exists: 503, not 404');
      await new Promise((r) => setTimeout(r, 3000));
      s = await server({ port, dbFile });

      const results = await Promise.all(handles.map(runOutcome));
      assert.deepEqual(
        results.map((r) => r.status),
        Array(5).fill('COMPLETED'),
      );
      assert.equal(
        await eventually(async () => ((await get()) === 200 ? 200 : undefined), { what: 'the API to answer again' }),
        200,
      );
      // After an outage the entity works through what queued up while the server was away: allow it a minute.
      const status = await eventually(
        async () => {
          const st = await tenantStatus(client, 'restart');
          return st.runsInFlight.length === 0 ? st : undefined;
        },
        { timeoutMs: 60_000, what: 'every run released after the restart' },
      );
      assert.equal(
        micros(status.spentUsd),
        results.reduce((sum, r) => sum + micros(r.costUsd), 0),
      );
      assert.ok(worker.exitCode === null, 'the worker process lived through the outage');
    } finally {
      // Whatever failed, nothing of this test is left to hold the process open until the test timeout.
      await app.close();
      await kill(worker);
      await client.connection.close();
    }
  });
});
