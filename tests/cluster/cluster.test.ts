import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { configureTenant, connectClient, runOutcome, startRun, tenantStatus } from '../../api/client';
import { serverPid } from '../../infra/cluster/cluster';
import { clusterPaths } from '../../infra/cluster/layout';
import { postmasterPid } from '../../infra/cluster/postgres';
import { findTemporalCli } from '../../infra/temporal-cli';
import { freePortIn } from '../../infra/ports';
import { progressQuery } from '../../workflows/delivery-run';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { eventually, micros, sleepChain } from '../../testkit/temporal';
import { runStartArgs } from '../../testkit/temporal-cli';
import { planLocalCodecServer } from '../../api/servers/codec-server';
import { logger } from '../../infra/logging/logger';

/**
 * ADOS on a self-hosted Temporal cluster (PostgreSQL persistence and visibility, 16 shards, mutual
 * TLS), brought up by tests/cluster/run.ts, which sets TEMPORAL_ADDRESS and the TEMPORAL_TLS_* files.
 * Workers run as separate `ados worker` processes per role, as an operator runs them.
 */
const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
const DIR = process.env.ADOS_TEST_CLUSTER_DIR;
const TLS_VARS = [
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
];

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** The PostgreSQL postmaster's pid, from its data directory's lock file. */
function postmasterOf(dir: string): number | undefined {
  const pid = postmasterPid(clusterPaths(dir).pgData);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
let client: Client;

function startWorker(args: string[], env: NodeJS.ProcessEnv = process.env): WorkerProcess {
  let output = '';
  const child = spawn(process.execPath, [ADOS, 'worker', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  children.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited };
}

async function serving(worker: WorkerProcess): Promise<WorkerProcess> {
  await eventually(async () => /ados worker · role/.test(worker.output()) || undefined, {
    timeoutMs: 60_000,
    what: `worker ${worker.child.pid} to serve (${worker.output().slice(-300)})`,
  });
  return worker;
}

async function settled(tenantId: string) {
  return eventually(
    async () => {
      const s = await tenantStatus(client, tenantId);
      return s.runsInFlight.length === 0 && s.runsWaiting.length === 0 ? s : undefined;
    },
    { what: `${tenantId} to settle`, timeoutMs: 120_000 },
  );
}

/** n runs of three sleeping nodes with known costs; returns their handles. */
async function startLoad(tenantId: string, n: number, ms = 400) {
  const costs = [0.001, 0.002, 0.004];
  const handles = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startRun(client, {
        tenantId,
        runId: `load-${i}`,
        dag: { nodes: sleepChain(costs, ms) },
      }),
    ),
  );
  return { handles, perRun: costs.reduce((s, c) => s + micros(c), 0) };
}

/** Returns once some of the runs have finished a node: the load is in flight. */
async function underWay(handles: Awaited<ReturnType<typeof startLoad>>['handles']): Promise<void> {
  await eventually(
    async () => {
      const p = await Promise.all(handles.slice(0, 10).map((h) => h.query(progressQuery)));
      return p.some((r) => r.nodes.n0?.status === 'COMPLETED') || undefined;
    },
    { what: 'load under way', timeoutMs: 60_000 },
  );
}

const controls: WorkerProcess[] = [];
const nodeWorkers: WorkerProcess[] = [];

before(async () => {
  assert.ok(DIR, 'run through `npm run test:cluster`, which brings the cluster up');
  client = await connectClient();
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await client?.connection.close();
});

describe('ADOS on a self-hosted Temporal cluster (PostgreSQL, mutual TLS)', () => {
  test('mTLS: a worker without the client certificate is refused with one line naming the settings (exit 5); with it, 1 control and 2 node processes serve', async () => {
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !TLS_VARS.includes(k)));
    const refused = startWorker(['--role', 'nodes'], bare);
    assert.equal(await refused.exited, 5);
    const line = refused.output().trim();
    assert.match(line, /^ados: cannot reach Temporal at .*it wants TLS; set TEMPORAL_TLS_CLIENT_CERT_PATH/);
    assert.equal(line.split('\n').length, 1, 'one line');

    const wrongFile = startWorker(['--role', 'nodes'], {
      ...process.env,
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem',
    });
    assert.equal(await wrongFile.exited, 5);
    assert.match(wrongFile.output(), /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read \/nonexistent\/client.pem/);

    controls.push(await serving(startWorker(['--role', 'control'])));
    assert.match(controls[0]!.output(), /role control · queues ados-control, ados-entities · Temporal .*mTLS/);
    for (let i = 0; i < 2; i++) nodeWorkers.push(await serving(startWorker(['--role', 'nodes', '--concurrency', '8'])));
    assert.match(
      nodeWorkers[0]!.output(),
      /role nodes · queues ados-nodes-0, ados-nodes-1, ados-nodes-2, ados-nodes-3/,
    );
  });

  test('a run started from the Temporal CLI costs exactly the sum of its nodes', async () => {
    await configureTenant(client, 'cli-tenant', { budgetUsd: 10 });
    const cli = findTemporalCli();
    const input = {
      tenantId: 'cli-tenant',
      runId: 'from-cli',
      dag: {
        nodes: [
          { id: 'a', kind: 'util.sleep', params: { ms: 50, costUsd: 0.0123 } },
          { id: 'b', kind: 'util.sleep', params: { ms: 50, costUsd: 0.0456 }, deps: ['a'] },
        ],
      },
    };
    // The Temporal CLI reads the same TEMPORAL_ADDRESS and TEMPORAL_TLS_* variables as ADOS, and
    // payloads through ADOS's codec server (TEMPORAL_CODEC_ENDPOINT / TEMPORAL_CODEC_AUTH).
    const codec = await planLocalCodecServer(undefined, logger);
    const stopCodec = await codec.serve(client, 'http://localhost:8233');
    const { stdout } = await promisify(execFile)(
      cli,
      runStartArgs('execute', 'delivery-run:cli-tenant:from-cli', { json: input }, '--output', 'json'),
      { timeout: 120_000, env: { ...process.env, ...codec.cliEnv } },
    ).finally(stopCodec);
    const result = (JSON.parse(stdout) as { result: DeliveryRunResult }).result;
    assert.equal(result.status, 'COMPLETED');
    assert.equal(micros(result.costUsd), micros(0.0123) + micros(0.0456));
    const status = await settled('cli-tenant');
    assert.equal(micros(status.spentUsd), micros(0.0123) + micros(0.0456));
  });

  test('20 runs racing a budget that fits 6 never overspend; listing by TenantId and DeliveryStatus works through SQL visibility', async () => {
    await configureTenant(client, 'racer', { budgetUsd: 0.6, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        startRun(client, {
          tenantId: 'racer',
          runId: `race-${i}`,
          dag: {
            nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: 200, costUsd: 0.1 }, estimatedCostUsd: 0.1 }],
          },
        }),
      ),
    );
    const results = await Promise.all(handles.map(runOutcome));
    const status = await settled('racer');
    assert.ok(micros(status.spentUsd) <= micros(0.6), `spent ${status.spentUsd} within 0.6`);
    assert.equal(
      micros(status.spentUsd),
      results.reduce((s, r) => s + micros(r.costUsd), 0),
    );
    const completed = results.filter((r) => r.status === 'COMPLETED').length;
    assert.equal(completed, 6);

    const count = async (query: string) => {
      const { count } = await client.workflow.count(query);
      return count;
    };
    await eventually(
      async () =>
        (await count(`WorkflowType = 'deliveryRun' AND TenantId = 'racer' AND DeliveryStatus = 'COMPLETED'`)) === 6 ||
        undefined,
      { what: 'six COMPLETED runs listed for racer', timeoutMs: 30_000 },
    );
    assert.equal(await count(`WorkflowType = 'deliveryRun' AND TenantId = 'racer'`), 20);
    assert.equal(await count(`TenantId = 'racer' AND DeliveryStatus IN ('TERMINATED', 'REJECTED')`), 14);
    assert.equal(await count(`TenantId = 'nobody'`), 0);
  });

  test('one of two node-worker processes SIGKILLed under load: every run completes, charged exactly', async () => {
    await configureTenant(client, 'killload', { budgetUsd: 100, maxConcurrentRuns: 40, backpressureThreshold: 1 });
    const { handles, perRun } = await startLoad('killload', 30);
    await underWay(handles);
    const victim = nodeWorkers.pop()!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const results = await Promise.all(handles.map(runOutcome));
    assert.deepEqual(
      results.map((r) => r.status),
      Array(30).fill('COMPLETED'),
    );
    for (const r of results) assert.equal(micros(r.costUsd), perRun, `${r.runId} cost the sum of its nodes`);
    assert.ok(
      results.some((r) => Object.values(r.nodes).some((n) => n.attempts >= 2)),
      'a node the killed process held was retried elsewhere',
    );
    const status = await settled('killload');
    assert.equal(micros(status.spentUsd), 30 * perRun);
    assert.equal(status.chargedEvents, 90, 'one cost event per node, none twice');
    nodeWorkers.push(await serving(startWorker(['--role', 'nodes', '--concurrency', '8'])));
  });

  /** `ados cluster up` on the test's cluster, as an operator runs it; its JSON answer. */
  const up = async () =>
    JSON.parse(
      (
        await promisify(execFile)(process.execPath, [ADOS, '--json', 'cluster', 'up', '--dir', DIR!], {
          timeout: 300_000,
        })
      ).stdout,
    ) as { started: boolean; restarted: string[]; address: string };

  for (const part of ['postgres', 'temporal-server'] as const)
    test(`${part === 'postgres' ? 'PostgreSQL' : 'the Temporal Server'} SIGKILLed mid-load${part === 'temporal-server' ? ' (2 control processes)' : ''}: \`ados cluster up\` alone brings it back and says so; every run completes with exact spend`, async () => {
      // A second control process shares ados-control, as the node processes share the node queues.
      if (part === 'temporal-server') controls.push(await serving(startWorker(['--role', 'control'])));
      const tenantId = `heal-${part}`;
      await configureTenant(client, tenantId, { budgetUsd: 100, maxConcurrentRuns: 40, backpressureThreshold: 1 });
      const { handles, perRun } = await startLoad(tenantId, 30);
      await underWay(handles);
      const pid = part === 'postgres' ? postmasterOf(DIR!) : serverPid(DIR!);
      assert.ok(pid, `${part} runs`);
      process.kill(pid, 'SIGKILL');
      await eventually(async () => !alive(pid) || undefined, { what: `${part} to die` });
      const status = JSON.parse(
        (
          await promisify(execFile)(process.execPath, [ADOS, '--json', 'cluster', 'status', '--dir', DIR!]).catch(
            (e: { stdout: string }) => e,
          )
        ).stdout,
      ) as { serving: boolean; server: boolean; postgres: boolean };
      assert.equal(part === 'postgres' ? status.postgres : status.server, false, `status says ${part} is down`);

      const healed = await up();
      assert.ok(healed.restarted.includes(part), `up restarted ${part}: ${healed.restarted.join(', ')}`);
      assert.equal(healed.address, process.env.TEMPORAL_ADDRESS);
      const results = await Promise.all(handles.map(runOutcome));
      assert.deepEqual(
        results.map((r) => r.status),
        Array(30).fill('COMPLETED'),
      );
      for (const r of results) assert.equal(micros(r.costUsd), perRun, `${r.runId} cost the sum of its nodes`);
      const settledStatus = await settled(tenantId);
      assert.equal(micros(settledStatus.spentUsd), 30 * perRun);
      assert.equal(settledStatus.chargedEvents, 90, 'one cost event per node, none twice');
      // Healed: a second up finds everything running and restarts nothing.
      assert.deepEqual((await up()).restarted, []);
    });

  test('cluster up: a second up says so; failures are one line naming the cause and the fix', async () => {
    const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
      promisify(execFile)(process.execPath, [ADOS, 'cluster', ...args], { env, timeout: 60_000 }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    const again = await cli(['up', '--dir', DIR!, '--json']);
    assert.equal(again.code, 0);
    assert.equal(JSON.parse(again.out).started, false);
    assert.equal(JSON.parse(again.out).address, process.env.TEMPORAL_ADDRESS);
    const status = await cli(['status', '--dir', DIR!, '--json']);
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.out).serving, true);

    const fresh = mkdtempSync(join(tmpdir(), 'ados-cluster-fail-'));
    const port = Number(process.env.TEMPORAL_ADDRESS!.split(':')[1]);
    const taken = await cli(['up', '--dir', fresh, '--port', String(port)]);
    assert.equal(taken.code, 5);
    assert.equal(
      taken.err.trim(),
      `ados: port ${port} is taken (--port (frontend)): stop what listens there (an ados dev server?) or pass another --port`,
    );
    const shards = await cli(['up', '--dir', DIR!, '--shards', '8']);
    assert.equal(shards.code, 2);
    assert.match(shards.err, /^ados: this cluster has 16 history shards, fixed at its first start/);
    // No Go on PATH and nothing built yet (an empty build cache).
    const noGo = await cli(['up', '--dir', fresh, '--port', String(await freePortIn(20_000, 32_000))], {
      ...process.env,
      PATH: join(fresh, 'empty-path'),
      ADOS_CLUSTER_CACHE: join(fresh, 'cache'),
    });
    assert.equal(noGo.code, 5);
    assert.match(noGo.err.trim(), /^ados: no Go toolchain on PATH: .*install Go .* and run again$/);
    assert.equal(noGo.err.trim().split('\n').length, 1);
    const none = await cli(['down', '--dir', join(fresh, 'nothing')]);
    assert.equal(none.code, 3);
    assert.match(none.err, /no cluster in .* \(ados cluster up creates one\)/);
  });

  test('workers stop with SIGTERM gracefully', async () => {
    for (const w of [...controls, ...nodeWorkers]) w.child.kill('SIGTERM');
    for (const w of [...controls, ...nodeWorkers]) assert.equal(await w.exited, 0);
  });
});
