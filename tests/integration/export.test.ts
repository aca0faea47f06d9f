import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { progressQuery } from '../../workflows/delivery-run';
import { EXPORTED_MARKER } from '../../activities/export/exporter';
import { ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import { EXPORT_SWEEP_SECONDS, ensureExportSchedule } from '../../workers/export-schedule';
import { eventually, micros, startTestEnv, type TestEnv } from '../../testkit/temporal';
import { openPayload } from '../../testkit/history';
import { decodeHistoryJson } from '../../infra/payload-codec';

const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
const run = promisify(execFile);
let env: TestEnv;
let stopWorkers: () => Promise<void>;
let root: string;

const RUN_FILES = ['summary.json', 'cost_decision.json', 'concurrency_report.json', 'trace.jsonl', 'history.json'];

before(async () => {
  env = await startTestEnv();
  root = process.env.ADOS_ARTIFACTS_DIR!;
  stopWorkers = await env.startWorkers();
});

after(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

function ados(args: string[], extraEnv: Record<string, string> = {}) {
  return run(process.execPath, [ADOS, ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_ARTIFACTS_DIR: root, ...extraEnv },
  });
}

/** Triggers the export sweep every few seconds until `done` holds. */
async function sweepUntil(schedule: ScheduleHandle, done: () => boolean, what: string): Promise<void> {
  let triggered = 0;
  await eventually(
    async () => {
      if (done()) return true;
      if (Date.now() - triggered > 5000) {
        triggered = Date.now();
        await schedule.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
      }
      return undefined;
    },
    { what, timeoutMs: 40_000 },
  );
}

describe('the exporter', () => {
  test(`a finished run's artifacts appear at the contract paths within the sweep's ${EXPORT_SWEEP_SECONDS} s, and its tenant's budget usage reflects it`, async () => {
    await configureTenant(env.client, 'audited', { budgetUsd: 5 });
    const finished = Date.now();
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'audited',
        runId: 'rag',
        dag: {
          nodes: [
            { id: 'retrieve', kind: 'retrieval.search', params: { query: 'what does the exporter write', top_k: 3 } },
            { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o-mini' } },
            { id: 'pause', kind: 'util.sleep', params: { ms: 10, costUsd: 0.5 } },
          ],
        },
      }),
    );
    const dir = join(root, 'runs', 'audited', 'rag');
    await eventually(async () => (existsSync(join(dir, EXPORTED_MARKER)) ? true : undefined), {
      timeoutMs: 40_000,
      what: 'the export',
    });
    const seconds = (Date.now() - finished) / 1000;
    assert.ok(seconds < EXPORT_SWEEP_SECONDS + 10, `exported ${seconds.toFixed(1)} s after the run finished`);
    for (const file of [
      ...RUN_FILES,
      'task_result_retrieve.json',
      'task_result_generate.json',
      'task_result_pause.json',
    ])
      assert.ok(existsSync(join(dir, file)), file);

    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'COMPLETED');
    assert.equal(micros(summary.costUsd), micros(result.costUsd));
    const task = JSON.parse(readFileSync(join(dir, 'task_result_generate.json'), 'utf8'));
    assert.equal(task.status, 'COMPLETED');
    assert.equal(task.model, 'gpt-4o-mini');
    assert.ok(task.usage.inputTokens > 0 && task.usage.outputTokens > 0);
    // The charge was priced by the maintained price source, and says so.
    assert.deepEqual(
      [task.pricing.provider, task.pricing.priceModel, task.pricing.source, task.pricing.inputTokens],
      ['openai', 'gpt-4o-mini', '@pydantic/genai-prices', task.usage.inputTokens],
    );
    assert.ok(Array.isArray(task.output.candidates));
    assert.ok(typeof task.timings.queueMs === 'number' && typeof task.timings.runMs === 'number');
    const report = JSON.parse(readFileSync(join(dir, 'concurrency_report.json'), 'utf8'));
    assert.equal(report.peakParallelism, 2, 'retrieve and pause ran together');
    // Admitted before it started: the wait its starter measured, carried in the run's launch.
    const started = (await env.client.workflow.getHandle('delivery-run:audited:rag').fetchHistory()).events![0]!;
    const launch = await openPayload<{ admissionWaitMs: number }>(
      started.workflowExecutionStartedEventAttributes!.input!.payloads![1]!,
    );
    assert.equal(report.admissionWaitMs, launch.admissionWaitMs);
    const decisions = JSON.parse(readFileSync(join(dir, 'cost_decision.json'), 'utf8'));
    assert.equal(decisions.decisions.length, 3);
    const trace = readFileSync(join(dir, 'trace.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8'));
    assert.equal(trace.length, history.events.length, 'one trace line per history event');
    assert.equal(trace[0].eventType, 'WORKFLOW_EXECUTION_STARTED');

    const usage = await eventually(
      async () => {
        const file = join(root, 'tenants', 'audited', 'budget_usage.json');
        if (!existsSync(file)) return undefined;
        const u = JSON.parse(readFileSync(file, 'utf8'));
        return micros(u.spentUsd) === micros(result.costUsd) ? u : undefined;
      },
      { what: 'budget_usage.json to reflect the run' },
    );
    assert.equal(micros(usage.spentUsd), micros((await tenantStatus(env.client, 'audited')).spentUsd));
    assert.ok(existsSync(join(root, 'tenants', 'audited', 'tenant_state.json')));
    const day = JSON.parse(
      readFileSync(join(root, 'tenants', 'audited', `cost_report_${summary.closedAt.slice(0, 10)}.json`), 'utf8'),
    );
    assert.equal(micros(day.byRun.rag), micros(result.costUsd));

    // The exported history replays as is; with the DAG in its start input changed, it does not.
    const ok = await ados(['replay', join(dir, 'history.json')]);
    assert.match(ok.stdout, /^ok\s+delivery-run:audited:rag/m);
    // Its payloads are sealed: open them with the key ring to change the DAG (replay takes plain payloads too).
    const opened = await decodeHistoryJson(structuredClone(history));
    const input = opened.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    const dag = JSON.parse(Buffer.from(input.data, 'base64').toString());
    dag.dag.nodes = dag.dag.nodes.filter((n: { id: string }) => n.id !== 'pause');
    input.data = Buffer.from(JSON.stringify(dag)).toString('base64');
    const changed = join(mkdtempSync(join(tmpdir(), 'ados-changed-')), 'history.json');
    writeFileSync(changed, JSON.stringify(opened));
    const bad = await ados(['replay', changed]).then(
      () => assert.fail('a changed DAG must not replay'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL\s+delivery-run:audited:rag/);
    assert.match(bad.stdout, /[Nn]ondetermin/);
  });

  test('an export killed half-way and run again leaves exactly one complete copy of every file', async () => {
    await configureTenant(env.client, 'crashy', { budgetUsd: 50, maxConcurrentRuns: 20 });
    const handles = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        startRun(env.client, {
          tenantId: 'crashy',
          runId: `r${i}`,
          dag: {
            nodes: [
              { id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.01 } },
              { id: 'b', kind: 'util.sleep', deps: ['a'], params: { ms: 10, costUsd: 0.02 } },
            ],
          },
        }),
      ),
    );
    await Promise.all(handles.map(runOutcome));
    // A second exporter into a folder of its own, killed while it writes.
    const fresh = mkdtempSync(join(tmpdir(), 'ados-export-crash-'));
    const child = spawn(process.execPath, [ADOS, 'export', '--tenant', 'crashy', '--force'], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_ARTIFACTS_DIR: fresh },
      stdio: 'ignore',
    });
    await eventually(
      async () =>
        existsSync(join(fresh, 'runs', 'crashy')) && readdirSync(join(fresh, 'runs', 'crashy')).length >= 2
          ? true
          : undefined,
      { intervalMs: 10, what: 'the export to begin' },
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const partial = readdirSync(join(fresh, 'runs', 'crashy')).filter((r) =>
      existsSync(join(fresh, 'runs', 'crashy', r, EXPORTED_MARKER)),
    ).length;
    assert.ok(partial < 12, `killed part-way (${partial} of 12 runs complete)`);

    await ados(['export', '--tenant', 'crashy'], { ADOS_ARTIFACTS_DIR: fresh });
    const runs = readdirSync(join(fresh, 'runs', 'crashy')).sort();
    assert.equal(runs.length, 12);
    for (const r of runs) {
      const files = readdirSync(join(fresh, 'runs', 'crashy', r)).sort();
      assert.deepEqual(
        files,
        [EXPORTED_MARKER, ...RUN_FILES, 'task_result_a.json', 'task_result_b.json'].sort(),
        `${r}: ${files.join(', ')}`,
      );
      for (const f of files.filter((name) => name.endsWith('.json')))
        JSON.parse(readFileSync(join(fresh, 'runs', 'crashy', r, f), 'utf8'));
      const trace = readFileSync(join(fresh, 'runs', 'crashy', r, 'trace.jsonl'), 'utf8')
        .trim()
        .split('\n');
      const history = JSON.parse(readFileSync(join(fresh, 'runs', 'crashy', r, 'history.json'), 'utf8'));
      assert.equal(trace.length, history.events.length, `${r}: no duplicate trace lines`);
    }
    // Again: nothing to do, nothing changes.
    const again = await ados(['export', '--tenant', 'crashy', '--json'], { ADOS_ARTIFACTS_DIR: fresh });
    assert.equal(JSON.parse(again.stdout).runs.length, 0);
  });

  test('the export Schedule sweeps a finished run whose export was lost, and refreshes the queue state', async () => {
    await configureTenant(env.client, 'swept', { budgetUsd: 5 });
    await runOutcome(
      await startRun(env.client, {
        tenantId: 'swept',
        runId: 'lost',
        dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.1 } }] },
      }),
    );
    const dir = join(root, 'runs', 'swept', 'lost');
    await eventually(async () => (existsSync(join(dir, EXPORTED_MARKER)) ? true : undefined), {
      what: 'the run export',
      timeoutMs: 40_000,
    });
    rmSync(dir, { recursive: true });
    // Slowed down, so that only the trigger below exports the run again.
    const schedule = await ensureExportSchedule(env.client, { everySeconds: 3600 });
    assert.equal((await schedule.describe()).spec.intervals?.length, 1);
    // Triggered again every few seconds until the run is back: a trigger sent while the schedule takes its update can be dropped.
    await sweepUntil(schedule, () => existsSync(join(dir, EXPORTED_MARKER)), 'the sweep to export the run again');
    await eventually(async () => (existsSync(join(root, 'execution', 'queue_state.json')) ? true : undefined), {
      what: 'the queue state',
    });
    // Tenants without newly finished runs are refreshed too.
    await configureTenant(env.client, 'idle', { budgetUsd: 3 });
    // The sweep finds tenants through visibility, which may not list a tenant configured a moment ago: triggered until it does.
    await sweepUntil(
      schedule,
      () => existsSync(join(root, 'tenants', 'idle', 'budget_usage.json')),
      'the idle tenant refreshed',
    );
    const state = JSON.parse(readFileSync(join(root, 'execution', 'queue_state.json'), 'utf8'));
    const control = state.queues.find(
      (q: { name: string; type: string }) => q.name === 'ados-control' && q.type === 'workflow',
    );
    assert.ok(control.pollers.length >= 1, 'the control worker polls');
    assert.deepEqual(
      state.queues
        .filter((q: { name: string }) => q.name.startsWith('ados-nodes-'))
        .map((q: { name: string }) => q.name),
      ['ados-nodes-0', 'ados-nodes-1', 'ados-nodes-2', 'ados-nodes-3'],
    );
    assert.ok(state.queues.every((q: { backlog: number }) => Number.isInteger(q.backlog)));
  });

  test('the sweep releases a run terminated from outside, charging the costs its result records and it never reported', async () => {
    await configureTenant(env.client, 'stuck', { budgetUsd: 5, maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const handle = await startRun(env.client, {
      tenantId: 'stuck',
      runId: 'killed',
      dag: {
        nodes: [
          { id: 'quick', kind: 'util.sleep', params: { ms: 10, costUsd: 0.07 } },
          { id: 'slow', kind: 'util.sleep', deps: ['quick'], params: { ms: 60_000, costUsd: 0.1 } },
        ],
      },
    });
    await eventually(
      async () => ((await handle.query(progressQuery)).nodes.slow?.status === 'RUNNING' ? true : undefined),
      { what: 'the first node to finish' },
    );
    await handle.terminate('operator pulled the plug');
    const before = await tenantStatus(env.client, 'stuck');
    assert.equal(before.runsInFlight.length, 1, 'a terminated run cannot release its own slot');
    assert.equal(before.spentUsd, 0, 'nor report the cost of the node it finished');
    await (await ensureExportSchedule(env.client)).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
    const after = await eventually(
      async () => {
        const s = await tenantStatus(env.client, 'stuck');
        return s.runsInFlight.length === 0 ? s : undefined;
      },
      { what: 'the sweep to release the run' },
    );
    assert.equal(micros(after.spentUsd), micros(0.07), 'the finished node is charged, once');
    assert.equal(after.reservedUsd, 0);
  });

  test("every activity is in the worker's distributed trace, and its summary has per-kind percentiles", async () => {
    // Stopping the workers writes their final summary.
    await stopWorkers();
    stopWorkers = await env.startWorkers();
    const files = readdirSync(join(root, 'execution'));
    const traceFile = files.find((f) => f.startsWith('distributed_trace_'))!;
    const lines = readFileSync(join(root, 'execution', traceFile), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const generate = lines.filter((l) => l.runId === 'rag' && l.nodeId === 'generate');
    assert.deepEqual(
      generate.map((l) => l.event),
      ['start', 'end'],
    );
    assert.equal(generate[1].tenantId, 'audited');
    assert.equal(generate[1].kind, 'llm.generate');
    assert.equal(generate[1].attempt, 1);
    assert.match(generate[1].queue, /^ados-nodes-\d$/);
    assert.equal(generate[1].outcome, 'completed');
    const span = Date.parse(generate[1].at) - Date.parse(generate[0].at);
    assert.ok(
      generate[1].durationMs === span || generate[1].durationMs === span - 1,
      `duration ${generate[1].durationMs} ms matches its start and end`,
    );
    const summary = JSON.parse(
      readFileSync(
        join(
          root,
          'execution',
          files.find(
            (f) => f === traceFile.replace('distributed_trace_', 'worker_summary_').replace('.jsonl', '.json'),
          )!,
        ),
        'utf8',
      ),
    );
    assert.ok(summary.tasks >= lines.filter((l) => l.event === 'end').length - 1);
    assert.ok(summary.kinds['util.sleep'].p95Ms >= summary.kinds['util.sleep'].p50Ms);
  });

  test('ids that could escape the artifacts folder are refused', async () => {
    const err = await ados(['export', '--tenant', '../etc']).then(
      () => assert.fail('must refuse'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, /invalid tenant id/);
  });
});
