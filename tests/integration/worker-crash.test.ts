import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { progressQuery } from '../../workflows/delivery-run';
import { ENTITY_TASK_QUEUE } from '../../workflows/domain/ids';
import { EXPORT_SCHEDULE_ID } from '../../workers/export-schedule';
import { temporal } from '@temporalio/proto';
import { eventually, micros, polled, startTestEnv, type TestEnv } from '../../testkit/temporal';
import { stopChild } from '../../testkit/processes';

const { PendingActivityState } = temporal.api.enums.v1;
const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
let env: TestEnv;
const children = new Set<ChildProcess>();

/** `ados worker` as its own process, the way operators run it. */
function startWorkerProcess(args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [ADOS, 'worker', '--concurrency', '4', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Whether an activity of the workflow has started on a worker (not merely been scheduled). */
async function activityStarted(workflowId: string): Promise<boolean> {
  const { raw } = await env.client.workflow.getHandle(workflowId).describe();
  return raw.pendingActivities?.some((a) => a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) ?? false;
}

before(async () => {
  env = await startTestEnv();
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await env?.teardown();
});

describe('worker crashes', () => {
  test('with no worker serving ados-entities, a tenant change answers within its timeout with a reason that names `ados worker`', async () => {
    const started = Date.now();
    await assert.rejects(
      configureTenant(env.client, 'orphan', { budgetUsd: 5 }, { timeoutMs: 1500 }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /is a worker serving ados-entities\? \(start one with: ados worker\)/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000, 'it did not hang');
  });

  test('a worker killed with SIGKILL mid-run and restarted: the run completes and the tenant is charged exactly once per node', async () => {
    const first = startWorkerProcess();
    await polled(env.client, ENTITY_TASK_QUEUE);
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
    await stopChild(first, 'SIGKILL');

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

    await stopChild(second);
    assert.equal(second.exitCode, 0, 'SIGTERM shuts the worker down gracefully');
  });

  test('a control worker stopped while its export sweep runs stops at once; the sweep is retried and completes', async () => {
    let stop = await env.startWorkers({ partitions: [] });
    for (let i = 0; i < 20; i++) await configureTenant(env.client, `sweep-${i}`, { budgetUsd: 1 });
    const schedule = env.client.schedule.getHandle(EXPORT_SCHEDULE_ID);
    // The sweep cut short by the last stop is retried on the next worker and ends there.
    const completes = async (workflowId: string) => {
      const status = await eventually(async () => {
        const { status } = await env.client.workflow.getHandle(workflowId).describe();
        return status.name === 'RUNNING' ? undefined : status.name;
      });
      assert.equal(status, 'COMPLETED', `sweep ${workflowId} completed on the next worker`);
    };
    const stoppedInMs: number[] = [];
    let interrupted: string | undefined;
    for (let round = 0; round < 3; round++) {
      if (round > 0) stop = await env.startWorkers({ partitions: [] });
      if (interrupted) await completes(interrupted);
      await schedule.trigger();
      // The sweep queries every tenant's entity, which this worker hosts: stop it while it does.
      interrupted = await eventually(
        async () => {
          const sweep = (await schedule.describe()).info.runningActions[0]?.workflow;
          if (!sweep) return undefined;
          return (await activityStarted(sweep.workflowId)) ? sweep.workflowId : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 20, what: 'a sweep activity running' },
      );
      const began = Date.now();
      await stop();
      stoppedInMs.push(Date.now() - began);
    }
    assert.ok(
      stoppedInMs.every((ms) => ms < 5_000),
      `each stop took under 5 s (the force time is 20 s): ${stoppedInMs.join(', ')} ms`,
    );
    stop = await env.startWorkers({ partitions: [] });
    try {
      await completes(interrupted!);
    } finally {
      await stop();
    }
  });

  test('SIGTERM drains a node worker: a node in flight ends there in its first attempt; past --drain-seconds it is cancelled and retried elsewhere', async () => {
    const stopControl = await env.startWorkers({ partitions: [] });
    try {
      await configureTenant(env.client, 'draining', { budgetUsd: 5 });
      const oneNode = (runId: string, ms: number) =>
        startRun(env.client, {
          tenantId: 'draining',
          runId,
          dag: { nodes: [{ id: 'work', kind: 'util.sleep', params: { ms, costUsd: 0.01 } }] },
        });
      const nodeStarted = (handle: Awaited<ReturnType<typeof oneNode>>) =>
        eventually(() => activityStarted(handle.workflowId), {
          timeoutMs: 60_000,
          intervalMs: 50,
          what: 'the node running on a worker',
        });
      const terminated = async (child: ChildProcess) => {
        const signalled = Date.now();
        await stopChild(child);
        assert.equal(child.exitCode, 0, 'the process exits cleanly');
        return Date.now() - signalled;
      };

      const drains = startWorkerProcess(['--role', 'nodes']);
      const finished = await oneNode('finishes-there', 4000);
      await nodeStarted(finished);
      const drainedInMs = await terminated(drains);
      // No node worker is left: the run can only end with what the stopping process reported.
      const result = await runOutcome(finished);
      assert.equal(result.status, 'COMPLETED');
      assert.equal(result.nodes.work!.attempts, 1, 'the node ran once, on the process that was stopping');
      assert.ok(drainedInMs > 1000, `the process waited for its node (${drainedInMs} ms)`);

      const short = startWorkerProcess(['--role', 'nodes', '--drain-seconds', '1']);
      const retried = await oneNode('retried-elsewhere', 10_000);
      await nodeStarted(retried);
      const cutInMs = await terminated(short);
      assert.ok(cutInMs < 5_000, `the node was cancelled after the drain period, not awaited (${cutInMs} ms)`);
      const next = startWorkerProcess(['--role', 'nodes', '--drain-seconds', '0']);
      const second = await runOutcome(retried);
      assert.equal(second.status, 'COMPLETED');
      assert.equal(second.nodes.work!.attempts, 2, 'the cancelled attempt was retried on the next process');
      assert.equal(micros(second.costUsd), micros(0.01), 'and charged once');
      await terminated(next);
    } finally {
      await stopControl();
    }
  });
});
