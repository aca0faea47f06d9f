import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { progressQuery } from '../../workflows/delivery-run';
import { CONTROL_TASK_QUEUE } from '../../workflows/policy/ids';
import { eventually, micros, polled, startTestEnv, type TestEnv } from '../helpers/temporal';

const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
let env: TestEnv;
const children = new Set<ChildProcess>();

/** `ados worker` as its own process, the way operators run it. */
function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [ADOS, 'worker', '--concurrency', '4'], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

before(async () => {
  env = await startTestEnv();
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await env?.teardown();
});

describe('worker crashes', () => {
  test('with no worker serving ados-control, a tenant change answers within its timeout with a reason that names `ados worker`', async () => {
    const started = Date.now();
    await assert.rejects(
      configureTenant(env.client, 'orphan', { budgetUsd: 5 }, { timeoutMs: 1500 }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /is a worker serving ados-control\? \(start one with: ados worker\)/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000, 'it did not hang');
  });

  test('a worker killed with SIGKILL mid-run and restarted: the run completes and the tenant is charged exactly once per node', async () => {
    const first = startWorkerProcess();
    await polled(env.client, CONTROL_TASK_QUEUE);
    await configureTenant(env.client, 'crashy', { budgetUsd: 50 });
    const costs = [0.011, 0.022, 0.033, 0.044, 0.055, 0.066];
    const handle = await startRun(env.client, {
      tenantId: 'crashy',
      runId: 'survives',
      maxParallelism: 2,
      dag: {
        nodes: costs.map((costUsd, i) => ({
          id: `step-${i}`,
          kind: 'util.sleep',
          params: { ms: 1500, costUsd },
          deps: i >= 2 ? [`step-${i - 2}`] : [],
        })),
      },
    });

    await eventually(
      async () => {
        const p = await handle.query(progressQuery);
        const done = Object.values(p.nodes).filter((n) => n.status === 'COMPLETED').length;
        const running = Object.values(p.nodes).filter((n) => n.status === 'RUNNING').length;
        return done >= 2 && running >= 1 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'two nodes done and one in flight' },
    );
    first.kill('SIGKILL');
    await exited(first);

    const second = startWorkerProcess();
    const result = await runOutcome(handle);
    assert.equal(result.status, 'COMPLETED');
    const nodeMicros = Object.values(result.nodes).reduce((s, n) => s + micros(n.costUsd), 0);
    assert.equal(
      nodeMicros,
      costs.reduce((s, c) => s + micros(c), 0),
    );
    assert.equal(micros(result.costUsd), nodeMicros);
    assert.ok(
      Object.values(result.nodes).some((n) => n.attempts >= 2),
      'a node in flight at the kill was retried',
    );

    const tenant = await eventually(async () => {
      const s = await tenantStatus(env.client, 'crashy');
      return s.runsInFlight.length === 0 ? s : undefined;
    });
    assert.equal(tenant.chargedEvents, costs.length, 'one cost event per node');
    assert.equal(micros(tenant.spentUsd), nodeMicros, 'charged exactly the sum of node costs');

    second.kill('SIGTERM');
    await exited(second);
    assert.equal(second.exitCode, 0, 'SIGTERM shuts the worker down gracefully');
  });
});
