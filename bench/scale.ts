/**
 * A burst from every door: `npm run bench:scale [-- --cluster] [--runs 10000] [--tenants 10]
 * [--slots 100] [--doors plain,ados,http] [--quick]` (`--quick`: 1,000 runs).
 *
 * The load, as a user would make it: `runs` runs of a chain of five 0-ms nodes ($0.001 each) over
 * `tenants` tenants of `slots` concurrent runs each, started all at once through one door at a
 * time, on one server (a dev server, or with `--cluster` the cluster `ados cluster up` builds),
 * served by one `ados worker` process with its defaults. The doors:
 *
 * - plain: a plain Temporal client's start, what `temporal workflow start` sends (the input alone):
 *   the run's own worker launches it, in its first workflow task;
 * - ados: `AdosClient.startRun`, what `ados run start` and the TypeScript client do: the launch in
 *   the starter, admissions batched per tenant;
 * - http: `POST /v1/tenants/{id}/runs` to an `ados api` process, from 50 clients (admission blocks
 *   on, as the API runs by default);
 * - bare: not a door but the floor: the same DAG as a bare Temporal workflow (`bareDag`: no
 *   validation, admission, budget or CostAgent), started as the plain door starts runs.
 *
 * Reported per door: runs per second over the whole burst and over each quarter of it; each run's
 * first-workflow-task latency (from its start to its first completed workflow task) p50/p99/max;
 * the control queue's workflow-task backlog and its age every 5 s (and the entities' queue's);
 * runs that asked their tenant by signal (their launch heard no answer); whether each tenant's
 * spend equals the sum of its runs' costs; the entities' largest history (events and bytes), their
 * continue-as-new count and the continue-as-new completions the server refused (a signal came in
 * meanwhile); the CPU of the worker, the server (Temporal and PostgreSQL), the API and the starter.
 *
 * Writes bench/results/scale-{dev|cluster}[-quick].json; the rows of doors not run this time are kept
 * from the recorded file when its load is the same.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { AdosClient } from '../api/client/ados-client';
import { configureTenant, connectClient, runOutcome, tenantStatus } from '../api/client';
import { bareDag, deliveryRun } from '../workflows';
import { nodeTaskQueue } from '../workflows/domain/run/routing';
import { toMicros } from '../workflows/domain/pricing/catalog';
import {
  CONTROL_TASK_QUEUE,
  ENTITY_TASK_QUEUE,
  deliveryRunWorkflowId,
  tenantBudgetWorkflowId,
} from '../workflows/domain/ids';
import { queueBacklog } from '../infra/metrics/worker-metrics';
import { nodePartitions } from '../infra/config';
import { eventually, polled } from '../testkit/temporal';
import { EXPORT_SCHEDULE_ID } from '../workers/export-schedule';
import { spawnAdosApi, spawnAdosWorker, stopChild } from '../testkit/processes';
import { benchServer } from './target';
import { runBench, writeReport } from './harness';
import { cpuMs, serverCpuMs } from './proc';
import { percentile as pct } from './stats';

const DOORS = ['plain', 'ados', 'http', 'bare'] as const;
type Door = (typeof DOORS)[number];
const ADMIN = 'admin-token-for-the-scale-bench';
const NODE_COST = 0.001;
/** Start calls in flight at once from the starter (plain and ados), and HTTP clients. */
const STARTERS = 200;
const HTTP_CLIENTS = 50;
const SAMPLE_MS = 5_000;
/** A prefix for the tenants' ids (`--tag t1`), to run again on a server that has the last run's. */
const TAG = ((i) => (i >= 0 ? `${process.argv[i + 1]}-` : ''))(process.argv.indexOf('--tag'));

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);
const round1 = (x: number) => Math.round(x * 10) / 10;

function chain5(tenantId: string, runId: string) {
  return {
    tenantId,
    runId,
    dag: {
      name: 'chain5',
      nodes: [0, 1, 2, 3, 4].map((k) => ({
        id: `n${k}`,
        kind: 'util.sleep',
        params: { ms: 0, costUsd: NODE_COST },
        ...(k ? { deps: [`n${k - 1}`] } : {}),
      })),
    },
  };
}

/** Runs `count` jobs, at most `width` at once. */
async function inParallel(count: number, width: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      for (let i = next++; i < count; i = next++) await job(i);
    }),
  );
}

interface Sample {
  atS: number;
  open: number;
  control: { backlog: number; ageS: number };
  entities: { backlog: number; ageS: number };
}

interface DoorRow {
  door: Door;
  runs: number;
  tenants: number;
  slotsPerTenant: number;
  startSeconds: number;
  completed: number;
  byStatus: Record<string, number>;
  burstSeconds: number;
  runsPerSecond: number;
  /** Runs per second completed in each quarter of the burst (from the first start to the last close). */
  quarters: number[];
  lastQuarterOverFirst: number;
  firstWorkflowTaskMs: { p50: number; p99: number; max: number };
  /** How long the first workflow task held its slot (a bare-started run's launch is in it). */
  firstWorkflowTaskHeldMs: { p50: number; p99: number; max: number };
  askedBySignal: number;
  controlBacklog: { maxAgeS: number; maxCount: number };
  entityBacklog: { maxAgeS: number; maxCount: number };
  samples: Sample[];
  spendExact: boolean;
  entities: {
    largestHistoryEvents: number;
    largestHistoryBytes: number;
    continueAsNew: number;
    refusedCompletions: number;
  };
  cpuSeconds: { worker: number; server: number; api?: number; starter: number };
  workerPeakRssMb: number;
  /** When the row was measured (ISO time). */
  measuredAt?: string;
}

/** The starts of one door, as fast as it takes them. */
async function startBurst(
  door: Door,
  runs: number,
  tenantOf: (i: number) => string,
  doors: { client: Client; ados: AdosClient; api?: string },
): Promise<string[]> {
  const ids: string[] = new Array<string>(runs);
  if (door === 'http') {
    await inParallel(runs, HTTP_CLIENTS, async (i) => {
      const tenantId = tenantOf(i);
      const { dag } = chain5(tenantId, `r-${i}`);
      const res = await fetch(`${doors.api}/v1/tenants/${tenantId}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ runId: `r-${i}`, dag }),
      });
      const body = (await res.json()) as { workflowId?: string };
      if (res.status !== 202 || !body.workflowId)
        throw new Error(`POST run r-${i}: ${res.status} ${JSON.stringify(body)}`);
      ids[i] = body.workflowId;
    });
    return ids;
  }
  await inParallel(runs, STARTERS, async (i) => {
    const tenantId = tenantOf(i);
    const input = chain5(tenantId, `r-${i}`);
    if (door === 'ados') ids[i] = (await doors.ados.startRun(input)).workflowId;
    else if (door === 'bare')
      ids[i] = (
        await doors.client.workflow.start(bareDag, {
          workflowId: deliveryRunWorkflowId(tenantId, input.runId),
          taskQueue: CONTROL_TASK_QUEUE,
          args: [
            {
              runId: input.runId,
              tenantId,
              taskQueue: nodeTaskQueue({ tenantId, partitions: nodePartitions() }),
              maxParallelism: 4,
              nodes: input.dag.nodes,
            },
          ],
        })
      ).workflowId;
    else
      ids[i] = (
        await doors.client.workflow.start(deliveryRun, {
          workflowId: deliveryRunWorkflowId(tenantId, input.runId),
          taskQueue: CONTROL_TASK_QUEUE,
          args: [input],
        })
      ).workflowId;
  });
  return ids;
}

/** Samples the open runs and both workflow queues' backlogs until every run is started and none is open. */
async function watch(client: Client, prefix: string, began: number, started: () => boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  const backlog = async (queue: string) => {
    const b = await queueBacklog(client, queue, 'workflow').catch(() => ({ backlog: 0, backlogAgeMs: 0 }));
    return { backlog: b.backlog, ageS: round1(b.backlogAgeMs / 1000) };
  };
  for (;;) {
    const [open, control, entities] = await Promise.all([
      client.workflow.count(`WorkflowId STARTS_WITH '${prefix}' AND ExecutionStatus = 'Running'`).then((c) => c.count),
      backlog(CONTROL_TASK_QUEUE),
      backlog(ENTITY_TASK_QUEUE),
    ]);
    samples.push({ atS: round1((Date.now() - began) / 1000), open, control, entities });
    process.stderr.write(`  ${JSON.stringify(samples.at(-1))}\n`);
    if (open === 0 && started()) return samples;
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
}

/** Each run's start, first completed workflow task and close, from its history; and whether it asked by signal. */
async function runTimings(client: Client, workflowIds: string[]) {
  const timings: Array<{
    startMs: number;
    firstTaskMs: number;
    firstTaskHeldMs: number;
    closeMs: number;
    bySignal: boolean;
  }> = [];
  await inParallel(workflowIds.length, 32, async (i) => {
    const events = (await client.workflow.getHandle(workflowIds[i]!).fetchHistory()).events ?? [];
    const first = events.find((e) => e.workflowTaskCompletedEventAttributes);
    const firstStarted = events.find((e) => e.workflowTaskStartedEventAttributes);
    timings.push({
      startMs: ms(events[0]?.eventTime),
      firstTaskMs: ms(first?.eventTime),
      firstTaskHeldMs: ms(first?.eventTime) - ms(firstStarted?.eventTime),
      closeMs: ms(events.at(-1)?.eventTime),
      bySignal: events.some((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes),
    });
  });
  return timings;
}

/** The tenants' entities over every execution: the largest history, continue-as-new count, refused completions. */
async function entityFigures(client: Client, tenants: string[]): Promise<DoorRow['entities']> {
  const figures = { largestHistoryEvents: 0, largestHistoryBytes: 0, continueAsNew: 0, refusedCompletions: 0 };
  const UNHANDLED = temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND;
  for (const tenantId of tenants) {
    let executions = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'` })) {
      executions++;
      const handle = client.workflow.getHandle(wf.workflowId, wf.runId);
      const { historyLength, historySize } = await handle.describe();
      figures.largestHistoryEvents = Math.max(figures.largestHistoryEvents, historyLength);
      figures.largestHistoryBytes = Math.max(figures.largestHistoryBytes, historySize ?? 0);
      const events = (await handle.fetchHistory()).events ?? [];
      figures.refusedCompletions += events.filter(
        (e) => e.workflowTaskFailedEventAttributes?.cause === UNHANDLED,
      ).length;
    }
    figures.continueAsNew += executions - 1;
  }
  return figures;
}

function peakRssMb(pid: number): number {
  try {
    const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)?.[1];
    return Math.round(Number(kb ?? 0) / 1024);
  } catch {
    return 0;
  }
}

async function burst(
  door: Door,
  { runs, tenants: tenantCount, slots }: { runs: number; tenants: number; slots: number },
  ctx: { client: Client; ados: AdosClient; api?: { child: ChildProcess; url: string }; worker: ChildProcess },
): Promise<DoorRow> {
  const tenants = Array.from({ length: tenantCount }, (_, t) => `${TAG}${door}-${t}`);
  const governed = door !== 'bare';
  if (governed)
    for (const tenantId of tenants)
      await configureTenant(ctx.client, tenantId, {
        budgetUsd: 100_000,
        maxConcurrentRuns: slots,
        backpressureThreshold: 1,
      });
  const cpu0 = {
    worker: cpuMs(ctx.worker.pid!),
    server: serverCpuMs(),
    api: ctx.api ? cpuMs(ctx.api.child.pid!) : 0,
    starter: process.cpuUsage(),
  };
  const began = Date.now();
  process.stderr.write(`${door}: starting ${runs} runs\n`);
  let startSeconds = 0;
  const starting = startBurst(door, runs, (i) => tenants[i % tenantCount]!, { ...ctx, api: ctx.api?.url }).then(
    (ids) => ((startSeconds = round1((Date.now() - began) / 1000)), ids),
  );
  const [workflowIds, samples] = await Promise.all([
    starting,
    watch(ctx.client, `delivery-run:${TAG}${door}-`, began, () => startSeconds > 0),
  ]);
  const starter = process.cpuUsage(cpu0.starter);
  const cpuSeconds = {
    worker: round1((cpuMs(ctx.worker.pid!) - cpu0.worker) / 1000),
    server: round1((serverCpuMs() - cpu0.server) / 1000),
    ...(ctx.api ? { api: round1((cpuMs(ctx.api.child.pid!) - cpu0.api) / 1000) } : {}),
    starter: round1((starter.user + starter.system) / 1e6),
  };
  process.stderr.write(`${door}: every run closed; reading outcomes and histories\n`);

  const outcomes: Array<{ tenantId: string; status: string; costMicros: number }> = [];
  await inParallel(workflowIds.length, 32, async (i) => {
    const tenantId = tenants[i % tenantCount]!;
    if (!governed) {
      const r = await ctx.client.workflow
        .getHandle<typeof bareDag>(workflowIds[i]!)
        .result()
        .catch(() => undefined);
      outcomes.push({ tenantId, status: r ? 'COMPLETED' : 'FAILED', costMicros: r?.costMicros ?? 0 });
      return;
    }
    const r = await runOutcome(ctx.client.workflow.getHandle<typeof deliveryRun>(workflowIds[i]!)).catch(
      () => undefined,
    );
    outcomes.push({ tenantId, status: r?.status ?? 'FAILED', costMicros: r ? toMicros(r.costUsd) : 0 });
  });
  const byStatus: Record<string, number> = {};
  for (const o of outcomes) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
  let spendExact = governed;
  for (const tenantId of governed ? tenants : []) {
    const expected = outcomes.filter((o) => o.tenantId === tenantId).reduce((s, o) => s + o.costMicros, 0);
    let status = await tenantStatus(ctx.client, tenantId);
    for (let i = 0; i < 150 && (status.runsInFlight.length > 0 || toMicros(status.spentUsd) !== expected); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = await tenantStatus(ctx.client, tenantId);
    }
    // Each tenant's spend is what its runs cost (runs that failed count what they ran); whether every
    // run ran every node is `completed`.
    spendExact &&= toMicros(status.spentUsd) === expected;
  }

  const timings = await runTimings(ctx.client, workflowIds);
  const t0 = Math.min(...timings.map((t) => t.startMs));
  const t1 = Math.max(...timings.map((t) => t.closeMs));
  const quarter = (t1 - t0) / 4;
  const quarters = [0, 1, 2, 3].map((q) => {
    const closed = timings.filter((t) => Math.min(3, Math.floor((t.closeMs - t0) / quarter)) === q).length;
    return round1(closed / (quarter / 1000));
  });
  const firstTask = timings.map((t) => t.firstTaskMs - t.startMs);
  const held = timings.map((t) => t.firstTaskHeldMs);
  const completed = byStatus.COMPLETED ?? 0;
  return {
    door,
    runs,
    tenants: tenantCount,
    slotsPerTenant: slots,
    startSeconds,
    completed,
    byStatus,
    burstSeconds: round1((t1 - t0) / 1000),
    runsPerSecond: round1(completed / ((t1 - t0) / 1000)),
    quarters,
    lastQuarterOverFirst: Math.round((quarters[3]! / quarters[0]!) * 100) / 100,
    firstWorkflowTaskMs: { p50: pct(firstTask, 50), p99: pct(firstTask, 99), max: pct(firstTask, 100) },
    firstWorkflowTaskHeldMs: { p50: pct(held, 50), p99: pct(held, 99), max: pct(held, 100) },
    askedBySignal: timings.filter((t) => t.bySignal).length,
    controlBacklog: {
      maxAgeS: Math.max(...samples.map((s) => s.control.ageS)),
      maxCount: Math.max(...samples.map((s) => s.control.backlog)),
    },
    entityBacklog: {
      maxAgeS: Math.max(...samples.map((s) => s.entities.ageS)),
      maxCount: Math.max(...samples.map((s) => s.entities.backlog)),
    },
    samples,
    spendExact,
    entities: await entityFigures(ctx.client, governed ? tenants : []),
    cpuSeconds,
    workerPeakRssMb: peakRssMb(ctx.worker.pid!),
  };
}

/**
 * The rows of doors not run this time, kept from the recorded report of the same load (each with the
 * time it was measured), so that `--doors ados,http` adds to a report that has plain and bare.
 */
function recordedRows(name: string, load: object, ran: Door[]): DoorRow[] {
  let recorded: { load?: object; rows?: DoorRow[]; at?: string };
  try {
    recorded = JSON.parse(readFileSync(join(__dirname, 'results', `${name}.json`), 'utf8')) as typeof recorded;
  } catch {
    return [];
  }
  if (JSON.stringify(recorded.load) !== JSON.stringify(load)) return [];
  return (recorded.rows ?? [])
    .filter((r) => !ran.includes(r.door))
    .map((r) => ({ ...r, measuredAt: r.measuredAt ?? recorded.at }));
}

/** The goals for 10,000 runs from the plain door on the cluster, judged on a row. */
function goals(row: DoorRow) {
  return {
    everyRunCompletedSpendExact: row.completed === row.runs && row.spendExact,
    atLeast13RunsPerSecond: row.runsPerSecond >= 13,
    lastQuarterAtLeast80PercentOfFirst: row.lastQuarterOverFirst >= 0.8,
    controlBacklogNeverOlderThan60s: row.controlBacklog.maxAgeS <= 60,
    entityHistoryWithinSuggestedLimits:
      row.entities.largestHistoryEvents <= 4_096 && row.entities.largestHistoryBytes <= 4 * 1024 * 1024,
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const load = {
    runs: arg('--runs', quick ? 1_000 : 10_000),
    tenants: arg('--tenants', 10),
    slots: arg('--slots', 100),
  };
  const doorsArg = process.argv.indexOf('--doors');
  const doors = (doorsArg >= 0 ? process.argv[doorsArg + 1]!.split(',') : [...DOORS]) as Door[];
  for (const d of doors) if (!DOORS.includes(d)) throw new Error(`--doors: unknown door ${d} (${DOORS.join(', ')})`);
  const onCluster = process.argv.includes('--cluster');
  const server = await benchServer();
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address, ADOS_ADMIN_TOKEN: ADMIN };
  const worker = spawnAdosWorker(env);
  const client = await connectClient(server.address);
  const ados = new AdosClient(client);
  const api = doors.includes('http') ? await spawnAdosApi(env) : undefined;
  const rows: DoorRow[] = [];
  const name = `scale-${onCluster ? 'cluster' : 'dev'}${quick ? '-quick' : ''}`;
  function report(): void {
    const all = [...rows, ...recordedRows(name, load, doors)].sort(
      (a, b) => DOORS.indexOf(a.door) - DOORS.indexOf(b.door),
    );
    const plain = all.find((r) => r.door === 'plain');
    writeReport(name, {
      server: server.kind,
      load,
      worker:
        'one `ados worker` process, its defaults (40 workflow-task slots for runs, 10 for entities, 20 node slots per queue)',
      ...(plain ? { plainDoorGoals: goals(plain) } : {}),
      rows: all,
      at: new Date().toISOString(),
    });
  }
  try {
    await polled(client, CONTROL_TASK_QUEUE);
    await polled(client, ENTITY_TASK_QUEUE);
    // Diagnosis only: what the export sweep (and its slot reclaim) costs a burst.
    if (process.argv.includes('--pause-sweep'))
      await eventually(() =>
        client.schedule
          .getHandle(EXPORT_SCHEDULE_ID)
          .pause('bench:scale --pause-sweep')
          .then(() => true),
      );
    process.stderr.write(`scale bench on ${server.kind}: ${JSON.stringify(load)}\n`);
    for (const door of doors) {
      const row = {
        ...(await burst(door, load, { client, ados, worker, ...(api ? { api } : {}) })),
        measuredAt: new Date().toISOString(),
      };
      process.stderr.write(`${JSON.stringify({ ...row, samples: row.samples.length })}\n`);
      rows.push(row);
      // Written after each door: a door measured in 40 minutes is kept if a later one is stopped.
      report();
    }
  } finally {
    await stopChild(api?.child);
    await stopChild(worker);
    await client.connection.close();
    await server.stop();
  }
}

runBench(main);
