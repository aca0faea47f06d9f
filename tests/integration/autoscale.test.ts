import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { createMetrics } from '../../infra/metrics/registry';
import { freePort } from '../../infra/ports';
import { serveWorkerMetrics } from '../../infra/metrics/worker-metrics';
import { nodeTaskQueue } from '../../workflows/domain/run/routing';
import { ADOS, spawnAutoscaler, stopChild } from '../../testkit/processes';
import { eventually, micros, polled, startTestEnv, type TestEnv } from '../../testkit/temporal';

let env: TestEnv;
/** Every supervisor a test started: a test that fails must not leave one running (its pipe would keep this file's process alive). */
const supervisors: ChildProcess[] = [];
let controlMetrics: Server | undefined;
let controlMetricsUrl = '';

before(async () => {
  env = await startTestEnv();
  // The workflows in this process, with their /metrics (the admitted runs' remaining work, which the
  // supervisor follows); every node runs in the supervisor's processes.
  const metrics = createMetrics();
  await env.startWorkers({ partitions: [], metrics });
  const port = await freePort();
  controlMetrics = await serveWorkerMetrics(metrics, port);
  controlMetricsUrl = `http://127.0.0.1:${port}/metrics`;
});

after(async () => {
  for (const supervisor of supervisors) await stopChild(supervisor, 'SIGKILL');
  controlMetrics?.close();
  await env?.teardown();
});

/** One gauge of the supervisor's /metrics, or undefined while it does not answer. */
async function gauge(port: number, name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('node-worker autoscaling', () => {
  test('a burst of 250-ms nodes on one partition grows the processes from MIN within 15 s; when the admitted runs have no node left they go back to MIN in one step; every node ran once and spend is exact', async () => {
    const tenantId = 'burst';
    await configureTenant(env.client, tenantId, { budgetUsd: 100, maxConcurrentRuns: 500, backpressureThreshold: 1 });
    const metricsPort = await freePort();
    // Its decisions are read from its log (JSON lines on stderr, its processes' too) below.
    const autoscaler = spawnAutoscaler({ ...process.env, TEMPORAL_ADDRESS: env.address }, [
      '1..3',
      '--concurrency',
      '5',
      '--scale-down-after',
      '6',
      '--control-metrics',
      controlMetricsUrl,
      '--metrics-port',
      String(metricsPort),
    ]);
    const supervisor = autoscaler.child;
    supervisors.push(supervisor);
    await eventually(async () => (await gauge(metricsPort, 'ados_autoscale_processes')) === 1, {
      timeoutMs: 60_000,
      what: 'the supervisor running MIN (1) processes',
    });
    // Its process serves the tenant's node queue (a process that cannot start never polls).
    await polled(env.client, nodeTaskQueue({ tenantId }), 60_000, { activities: true });
    const node = (i: number) => ({ id: `n${i}`, kind: 'util.sleep', params: { ms: 250, costUsd: 0.001 } });
    // One run through the first process, so that the burst starts against a polling worker.
    const warm = await runOutcome(await startRun(env.client, { tenantId, runId: 'warm', dag: { nodes: [node(0)] } }));
    assert.equal(warm.status, 'COMPLETED');

    // The burst: 60 runs of four parallel 250-ms nodes, 240 nodes on one partition; 12 s on one process of 5 slots.
    const samples: Array<{ at: number; processes: number }> = [];
    const began = Date.now();
    const sampler = setInterval(() => {
      void gauge(metricsPort, 'ados_autoscale_processes').then((processes) => {
        if (processes !== undefined) samples.push({ at: Date.now() - began, processes });
      });
    }, 250);
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) =>
        runOutcome(
          await startRun(env.client, {
            tenantId,
            runId: `r-${i}`,
            maxParallelism: 4,
            dag: { nodes: [0, 1, 2, 3].map(node) },
          }),
        ),
      ),
    );
    const burstMs = Date.now() - began;
    const grewAt = samples.find((s) => s.processes > 1)?.at;
    assert.ok(
      grewAt !== undefined,
      `the processes grew during the burst (samples: ${JSON.stringify(samples.slice(-5))})`,
    );
    assert.ok(grewAt <= 15_000, `grew ${grewAt} ms into the burst`);
    const peak = Math.max(...samples.map((s) => s.processes));
    assert.ok(peak >= 2 && peak <= 3, `peak ${peak} within MIN..MAX`);

    // After the burst: no admitted run has a node left, so once drained for 3 s, straight back to MIN.
    const lastRunEndedAt = Date.now() - began;
    await eventually(async () => (await gauge(metricsPort, 'ados_autoscale_processes')) === 1, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the processes back at MIN after the burst',
    });
    clearInterval(sampler);
    const backAt = Date.now() - began;

    // Every run completed, every node ran once (no retry was needed, none ran twice), spend is exact.
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 'COMPLETED'),
    );
    const attempts = results.flatMap((r) => Object.values(r.nodes).map((n) => n.attempts));
    assert.equal(attempts.length, 240);
    assert.ok(
      attempts.every((a) => a === 1),
      'each node ran once',
    );
    // Runs report their charges to the entity in batches from the worker: wait for the last batch.
    const spent = await eventually(
      async () => {
        const { spentUsd, runsInFlight } = await tenantStatus(env.client, tenantId);
        return runsInFlight.length === 0 ? micros(spentUsd) : undefined;
      },
      { timeoutMs: 30_000, what: 'every run released' },
    );
    assert.equal(spent, 241 * 1000, 'spend is the sum of the 241 nodes, exactly');

    // Each change of target was logged with its reason and its inputs: the queue's backlog, running
    // nodes and the admitted runs' remaining node-seconds.
    const { decisions } = autoscaler;
    const queue = nodeTaskQueue({ tenantId });
    assert.ok(decisions.every((d) => queue in d.queues));
    const up = decisions.find((d) => d.reason === 'backlog' && d.to > d.from);
    assert.ok(up, 'a step up on the backlog');
    assert.ok(up.queues[queue]!.work! > 0, 'the admitted work ahead was known when it grew');
    const last = decisions.at(-1)!;
    assert.equal(last.reason, 'drained');
    assert.equal(last.to, 1);
    assert.equal(last.queues[queue]!.work, 0);
    // Drained for 3 s, read each second, once Temporal's backlog statistics (cached for some seconds)
    // show the queue empty: sooner than the calm rule's two 6-s steps.
    assert.ok(backAt - lastRunEndedAt <= 15_000, `back at MIN ${backAt - lastRunEndedAt} ms after the last run ended`);
    process.stdout.write(
      `# burst ${burstMs} ms; grew at ${grewAt} ms, peak ${peak}; back at MIN at ${backAt} ms (${backAt - lastRunEndedAt} ms after the last run); decisions ${decisions.map((d) => `${d.from}→${d.to} (${d.reason})`).join(', ')}\n`,
    );

    // SIGTERM drains every process, and the supervisor exits cleanly.
    const exit = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
    supervisor.kill('SIGTERM');
    assert.equal(await exit, 0);
  });

  test('a supervisor killed with SIGKILL leaves no process behind: each drains and exits on its own', async () => {
    const metricsPort = await freePort();
    const killed = spawn(
      process.execPath,
      [ADOS, 'worker', '--role', 'nodes', '--autoscale', '2..2', '--metrics-port', String(metricsPort)],
      { env: { ...process.env, TEMPORAL_ADDRESS: env.address }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    supervisors.push(killed);
    // Its processes: its children, once both serve.
    const pids = await eventually(
      async () => {
        if ((await gauge(metricsPort, 'ados_autoscale_processes')) !== 2) return undefined;
        const children = execFileSync('pgrep', ['-P', String(killed.pid)], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean)
          .map(Number);
        return children.length === 2 ? children : undefined;
      },
      { timeoutMs: 60_000, what: 'two supervised processes' },
    );
    // Running, not a zombie (an orphan's exit is reaped by whatever init this machine has, if any).
    const alive = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      } catch {
        return false;
      }
    };
    assert.ok(pids.every(alive));
    await stopChild(killed, 'SIGKILL');
    await eventually(async () => pids.every((pid) => !alive(pid)), {
      timeoutMs: 30_000,
      what: 'the orphaned processes gone',
    });
  });
});
