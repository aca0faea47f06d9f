/**
 * What governance costs the engine, counted exactly: history events, workflow tasks and activity
 * tasks per run (the run itself, every workflow it starts, and its share of the tenant entity's
 * events across continue-as-new), and the worker process's CPU milliseconds per run, for a governed
 * `deliveryRun` beside a bare Temporal workflow (`bareDag`) running the same DAG on the same server.
 * The workers run in a process of their own (bench/worker-process.ts) so their CPU is theirs alone.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { admitFromBlocks } from '../api/client/admission';
import { adosDataConverter } from '../infra/payload-codec';
import { temporal } from '@temporalio/proto';
import { configureTenant, connectClient, runOutcome, startRun } from '../api/client';
import { DEFAULT_ADMISSION_BLOCK_SECONDS, environment } from '../infra/config';
import { benchServer, benchServerKind, nodeProcesses } from './target';
import { bareDag } from '../workflows/bare-dag';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId, tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { deliveryRun } from '../workflows/delivery-run';
import { nodeTaskQueue } from '../workflows/domain/run/routing';
import type { DeliveryRunResult } from '../workflows/domain/run/run-result';
import { chain5, type BenchNode } from '../testkit/workloads';
import { median, percentile as pct } from './stats';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** What a bench worker process serves and how much at once (bench/worker-process.ts). */
export interface BenchWorkerOptions {
  nodeConcurrency?: number;
  workflowConcurrency?: number;
  /** Host the workflows. @default true */
  control?: boolean;
  /** Node partitions to serve. @default all */
  partitions?: number[];
}

/** The bench's workers, in a child process that reports its own CPU time. */
export interface WorkerProcess {
  cpuMs(): Promise<number>;

  /** Waits until the workers have been idle for a moment (trailing exports, releases, timers), then returns their CPU time. */
  cpuMsWhenIdle(): Promise<number>;
  stop(): Promise<void>;
}

export async function startWorkerProcess(
  address: string,
  { cpuProfileDir, workers = {} }: { cpuProfileDir?: string; workers?: BenchWorkerOptions } = {},
): Promise<WorkerProcess> {
  // --cpu-prof profiles every thread: the main one (activities, Temporal's core bridge) and the workflow threads.
  const execArgv = ['--import', 'tsx', ...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [])];
  const child: ChildProcess = fork(join(__dirname, 'worker-process.ts'), [], {
    execArgv,
    env: { ...environment(), TEMPORAL_ADDRESS: address, ADOS_BENCH_WORKER_OPTIONS: JSON.stringify(workers) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m: { type: string }) =>
      m.type === 'ready' ? resolve() : reject(new Error(`unexpected ${m.type}`)),
    );
    child.once('exit', (code) => reject(new Error(`bench worker process exited with ${code} before it was ready`)));
  });
  const ask = <T>(request: object, answer: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (m: { type: string } & T) => {
        if (m.type !== answer) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send(request);
    });
  const cpuMs = async () => (await ask<{ cpuMs: number }>({ type: 'cpu' }, 'cpu')).cpuMs;
  return {
    cpuMs,

    async cpuMsWhenIdle() {
      let last = await cpuMs();
      for (let i = 0; i < 120; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const now = await cpuMs();
        // Idle: under 2% of a core over the last half second.
        if (now - last < 10) return now;
        last = now;
      }
      return last;
    },
    async stop() {
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

/**
 * The bench's workers: one process for every role, or (`nodeProcesses` > 0) a control process and
 * that many node-worker processes sharing the node queues. CPU time is the sum over the processes.
 */
export async function startWorkerProcesses(
  address: string,
  {
    nodeProcesses = 0,
    cpuProfileDir,
    workers = {},
  }: { nodeProcesses?: number; cpuProfileDir?: string; workers?: BenchWorkerOptions } = {},
): Promise<WorkerProcess> {
  const profile = cpuProfileDir ? { cpuProfileDir } : {};
  if (nodeProcesses === 0) return startWorkerProcess(address, { ...profile, workers });
  const all = await Promise.all([
    startWorkerProcess(address, { ...profile, workers: { ...workers, partitions: [] } }),
    ...Array.from({ length: nodeProcesses }, () =>
      startWorkerProcess(address, { ...profile, workers: { ...workers, control: false } }),
    ),
  ]);
  const sum = async (f: (w: WorkerProcess) => Promise<number>) =>
    (await Promise.all(all.map(f))).reduce((a, b) => a + b, 0);
  return {
    cpuMs: () => sum((w) => w.cpuMs()),
    cpuMsWhenIdle: () => sum((w) => w.cpuMsWhenIdle()),
    stop: async () => {
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}

/** Event counts of one workflow execution chain, by type. */
type Counts = Record<string, number>;
const add = (into: Counts, from: Counts, times = 1) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v * times;
};
const countEvents = (events: HistoryEvent[]): Counts => {
  const counts: Counts = {};
  for (const e of events) {
    const name = EventType[e.eventType ?? 0]?.replace(/^EVENT_TYPE_/, '') ?? String(e.eventType);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
};
const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);

/** A run's own events and those of every workflow it started (children: export, shadows). */
async function runEvents(
  client: Client,
  workflowId: string,
): Promise<{ own: Counts; children: Counts; bytes: number }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const children: Counts = {};
  let bytes = historyBytes(events);
  for (const e of events) {
    const started = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (started?.workflowId) {
      const child =
        (await client.workflow.getHandle(started.workflowId, started.runId ?? undefined).fetchHistory()).events ?? [];
      add(children, countEvents(child));
      bytes += historyBytes(child);
    }
  }
  return { own: countEvents(events), children, bytes };
}

/** What events take as Temporal stores them: their protobuf encoding, payloads included. */
const historyBytes = (events: HistoryEvent[]) => temporal.api.history.v1.History.encode({ events }).finish().length;

/** Where an entity's chain of executions stands: its current execution and how many events that has. */
async function entityMark(client: Client, tenantId: string): Promise<{ runId: string; events: number }> {
  const handle = client.workflow.getHandle(tenantBudgetWorkflowId(tenantId));
  const { runId } = await handle.describe();
  return {
    runId,
    events: ((await client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? []).length,
  };
}

/** The entity's events since `mark`, following continue-as-new from the marked execution on. */
async function entityEventsSince(
  client: Client,
  tenantId: string,
  mark: { runId: string; events: number },
): Promise<{ counts: Counts; executions: number; bytes: number }> {
  const counts: Counts = {};
  let runId: string | undefined = mark.runId;
  let skip = mark.events;
  let executions = 0;
  let bytes = 0;
  while (runId) {
    const events: HistoryEvent[] =
      (await client.workflow.getHandle(tenantBudgetWorkflowId(tenantId), runId).fetchHistory()).events ?? [];
    const fresh = events.slice(skip);
    add(counts, countEvents(fresh));
    bytes += historyBytes(fresh);
    executions++;
    skip = 0;
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { counts, executions, bytes };
}

export interface EngineBatch {
  runs: number;
  completed: number;
  wallMs: number;
  nodesPerSec: number;
  latencyMs: { p50: number; p99: number };
  startCallMs: { p50: number; p99: number };
  /** History events per run: its own, the workflows it started, its share of the entity's. */
  eventsPerRun: { run: number; children: number; entity: number; total: number };
  workflowTasksPerRun: number;
  activityTasksPerRun: number;
  /** Every event type, per run, the three parts together. */
  eventsByType: Counts;
  workerCpuMsPerRun: number;
  /** Stored history bytes per run (protobuf, payloads included): the three parts together. */
  historyBytesPerRun: number;
  /** Entity executions the batch touched (more than one: it continued-as-new during the batch). */
  entityExecutions?: number;
}

/** Starts run `i`; its result says whether the run ended as it should. */
type Starter = (i: number) => Promise<{ workflowId: string; result: () => Promise<boolean> }>;

/**
 * Runs `count` runs at once, or `concurrency` at a time back to back, the k-th of those lanes
 * starting k × `staggerMs` late (steady traffic rather than waves that arrive together), and
 * measures them.
 */
async function batch(
  workers: WorkerProcess,
  {
    count,
    nodes,
    start,
    concurrency = count,
    staggerMs = 0,
  }: { count: number; nodes: number; start: Starter; concurrency?: number; staggerMs?: number },
): Promise<
  Omit<
    EngineBatch,
    | 'eventsPerRun'
    | 'workflowTasksPerRun'
    | 'activityTasksPerRun'
    | 'eventsByType'
    | 'workerCpuMsPerRun'
    | 'historyBytesPerRun'
  > & { cpuMs: number; workflowIds: string[] }
> {
  const cpuBefore = await workers.cpuMs();
  const began = Date.now();
  const latencies: number[] = [];
  const startCalls: number[] = [];
  const workflowIds: string[] = [];
  let completed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      if (staggerMs > 0) await new Promise((r) => setTimeout(r, lane * staggerMs));
      for (let i = next++; i < count; i = next++) {
        const t0 = Date.now();
        try {
          const handle = await start(i);
          startCalls.push(Date.now() - t0);
          workflowIds.push(handle.workflowId);
          if (await handle.result()) completed++;
        } catch (err) {
          process.stderr.write(`  run ${i} failed: ${String(err)}\n`);
        }
        latencies.push(Date.now() - t0);
      }
    }),
  );
  const wallMs = Date.now() - began;
  const cpuMs = (await workers.cpuMsWhenIdle()) - cpuBefore;
  return {
    runs: count,
    completed,
    wallMs,
    nodesPerSec: r1((count * nodes * 1000) / wallMs),
    latencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
    startCallMs: { p50: pct(startCalls, 50), p99: pct(startCalls, 99) },
    cpuMs,
    workflowIds,
  };
}

async function describeBatch(
  client: Client,
  entity: { counts: Counts; executions: number; bytes: number } | undefined,
  measured: Awaited<ReturnType<typeof batch>>,
): Promise<EngineBatch> {
  const { cpuMs, workflowIds, ...rest } = measured;
  const own: Counts = {};
  const children: Counts = {};
  let bytes = entity?.bytes ?? 0;
  for (const id of workflowIds) {
    const e = await runEvents(client, id);
    add(own, e.own);
    add(children, e.children);
    bytes += e.bytes;
  }
  const n = workflowIds.length;
  const byType: Counts = {};
  add(byType, own, 1 / n);
  add(byType, children, 1 / n);
  if (entity) add(byType, entity.counts, 1 / n);
  for (const k of Object.keys(byType)) byType[k] = r3(byType[k]!);
  const perRun = (c: Counts) => r3(total(c) / n);
  return {
    ...rest,
    eventsPerRun: {
      run: perRun(own),
      children: perRun(children),
      entity: entity ? perRun(entity.counts) : 0,
      total: r3(total(own) / n + total(children) / n + (entity ? total(entity.counts) / n : 0)),
    },
    workflowTasksPerRun: r3(byType.WORKFLOW_TASK_COMPLETED ?? 0),
    activityTasksPerRun: r3(byType.ACTIVITY_TASK_STARTED ?? 0),
    eventsByType: byType,
    workerCpuMsPerRun: r1(cpuMs / n),
    historyBytesPerRun: Math.round(bytes / n),
    ...(entity ? { entityExecutions: entity.executions } : {}),
  };
}

let batchSeq = 0;

/** One governed batch on a tenant of its own, so that every entity event in the window is the batch's. */
export async function governedBatch(
  client: Client,
  workers: WorkerProcess,
  nodes: BenchNode[],
  count: number,
  {
    concurrency = count,
    name = 'dag',
    staggerMs = 0,
    door = 'ados',
  }: { concurrency?: number; name?: string; staggerMs?: number; door?: StartDoor } = {},
): Promise<EngineBatch> {
  const id = batchSeq++;
  const tenantId = `engine-${id}`;
  await configureTenant(client, tenantId, {
    budgetUsd: 1e6,
    maxConcurrentRuns: Math.max(count, concurrency),
    backpressureThreshold: 1,
    learning: { intensity: 'CONSERVATIVE' },
  });
  const mark = await entityMark(client, tenantId);
  const start = async (i: number) => {
    const input = { tenantId, runId: `g${i}`, maxParallelism: 8, dag: { name, nodes } };
    // A plain start is what `temporal workflow start` sends: the input alone; the run's worker launches it.
    const handle =
      door !== 'plain'
        ? await startRun(door === 'blocks' ? blockStarter(client) : client, input)
        : await client.workflow.start(deliveryRun, {
            workflowId: deliveryRunWorkflowId(tenantId, input.runId),
            taskQueue: CONTROL_TASK_QUEUE,
            args: [input],
          });
    return { workflowId: handle.workflowId, result: async () => (await runOutcome(handle)).status === 'COMPLETED' };
  };
  const measured = await batch(workers, { count, nodes: nodes.length, concurrency, staggerMs, start });
  return describeBatch(client, await entityEventsSince(client, tenantId, mark), measured);
}

/**
 * How a governed run is started: by an ADOS starter admitted by its tenant's entity, by a
 * long-lived ADOS starter admitting from blocks (as the HTTP API does), or by a plain Temporal
 * client (the Temporal CLI).
 */
export type StartDoor = 'ados' | 'blocks' | 'plain';

const blockStarters = new WeakMap<Client, Client>();

/** A second client on the same connection whose starts admit from blocks, as the HTTP API's do. */
function blockStarter(client: Client): Client {
  let starter = blockStarters.get(client);
  if (!starter) {
    starter = new Client({
      connection: client.connection,
      namespace: client.options.namespace,
      dataConverter: adosDataConverter(),
    });
    admitFromBlocks(starter, { starter: `bench.${process.pid}`, ttlSeconds: DEFAULT_ADMISSION_BLOCK_SECONDS });
    blockStarters.set(client, starter);
  }
  return starter;
}

/** The same DAG as a bare Temporal workflow: same activities, queue, timeouts, retries and parallelism. */
export async function bareBatch(
  client: Client,
  workers: WorkerProcess,
  nodes: BenchNode[],
  count: number,
  { concurrency = count, staggerMs = 0 } = {},
): Promise<EngineBatch> {
  const id = batchSeq++;
  const tenantId = `engine-${id}`;
  const start = async (i: number) => {
    const h: WorkflowHandle<typeof bareDag> = await client.workflow.start(bareDag, {
      workflowId: `bare:${tenantId}:b${i}`,
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ runId: `b${i}`, tenantId, taskQueue: nodeTaskQueue({ tenantId }), maxParallelism: 8, nodes }],
    });
    return { workflowId: h.workflowId, result: async () => (await h.result()).nodes === nodes.length };
  };
  const measured = await batch(workers, { count, nodes: nodes.length, concurrency, staggerMs, start });
  return describeBatch(client, undefined, measured);
}

/** A warm-up, so that the first measured batch does not pay for caches and JIT. */
export async function warmUp(client: Client, workers: WorkerProcess, times = 2): Promise<void> {
  for (let i = 0; i < times; i++) {
    await governedBatch(client, workers, chain5(), 50);
    await bareBatch(client, workers, chain5(), 50);
  }
}

export interface EngineRow {
  dag: string;
  inFlight: number;
  rounds: number;
  /** Each round's ratio, when there were several. */
  wallRatios?: number[];
  cpuRatios?: number[];
  governed: EngineBatch;
  bare: EngineBatch;
  wallRatio: number;
  eventsRatio: number;
  cpuRatio: number;
}

/** The bench's worker process: everything else is the SDK's default (sticky cache sized from the heap, pollers, one workflow thread). */
export const BENCH_WORKER_OPTIONS = { nodeConcurrency: 100, workflowConcurrency: 100 } as const;

export interface EngineReport {
  rows: EngineRow[];
  workerOptions?: typeof BENCH_WORKER_OPTIONS;
  /** The server measured on, and how many node-worker processes (0: one process for every role). */
  server?: string;
  nodeProcesses?: number;
  /** One chain5 batch per start path: an ADOS start, a plain Temporal start, and bare Temporal. */
  doors?: { runs: number; ados: EngineBatch; plain: EngineBatch; bare: EngineBatch; blocks?: EngineBatch };
  /**
   * Below saturation: `concurrency` runs in flight at a time, of 250-ms nodes, back to back in
   * staggered lanes; governed runs admitted by the entity, and (`blocks`) from a block.
   */
  light: {
    concurrency: number;
    runs: number;
    governed: EngineBatch;
    bare: EngineBatch;
    p50LatencyDeltaMs: number;
    blocks?: EngineBatch;
    blocksP50LatencyDeltaMs?: number;
  };
  /** Four lanes each starting one-node runs (one 50-ms node) one after the other: entity, blocks, bare. */
  lanes?: { concurrency: number; runs: number; governed: EngineBatch; blocks: EngineBatch; bare: EngineBatch };
  /** Where the worker's time goes under the governed and the bare load (bench:engine --profile). */
  profile?: { runs: number; governed: ProfileSummary; bare: ProfileSummary };
}

/** Governed and bare, one after the other on the same server and workers, per shape and level. */
export async function measureEngine(
  client: Client,
  workers: WorkerProcess,
  {
    levels,
    shapes,
    lightRuns,
    rounds = 1,
  }: { levels: number[]; shapes: Array<readonly [string, BenchNode[]]>; lightRuns: number; rounds?: number },
): Promise<EngineReport> {
  const rows: EngineRow[] = [];
  await warmUp(client, workers);
  for (const [name, nodes] of shapes) {
    for (const inFlight of levels) {
      // Governed and bare alternate; each ratio is the median of the rounds' ratios, and the batches shown are the median round's.
      const pairs: Array<{ governed: EngineBatch; bare: EngineBatch }> = [];
      for (let round = 0; round < rounds; round++)
        pairs.push({
          governed: await governedBatch(client, workers, nodes, inFlight, { name }),
          bare: await bareBatch(client, workers, nodes, inFlight),
        });
      const medianOf = (f: (p: (typeof pairs)[number]) => number) => median(pairs.map(f));
      const wallRatio = medianOf((p) => p.governed.wallMs / p.bare.wallMs);
      const { governed, bare } = pairs.find((p) => p.governed.wallMs / p.bare.wallMs === wallRatio)!;
      const row: EngineRow = {
        dag: name,
        inFlight,
        rounds,
        governed,
        bare,
        wallRatio: r3(wallRatio),
        eventsRatio: r3(medianOf((p) => p.governed.eventsPerRun.total / p.bare.eventsPerRun.total)),
        cpuRatio: r3(medianOf((p) => p.governed.workerCpuMsPerRun / p.bare.workerCpuMsPerRun)),
        ...(rounds > 1
          ? {
              wallRatios: pairs.map((p) => r3(p.governed.wallMs / p.bare.wallMs)),
              cpuRatios: pairs.map((p) => r3(p.governed.workerCpuMsPerRun / p.bare.workerCpuMsPerRun)),
            }
          : {}),
      };
      rows.push(row);
      process.stderr.write(
        `  ${name} × ${inFlight}: wall ${governed.wallMs} / ${bare.wallMs} ms (${row.wallRatio}), events ${governed.eventsPerRun.total} / ${bare.eventsPerRun.total} (${row.eventsRatio}), CPU ${governed.workerCpuMsPerRun} / ${bare.workerCpuMsPerRun} ms (${row.cpuRatio})\n`,
      );
    }
  }
  // The two doors of a governed run, beside bare Temporal, on the same server and worker.
  const doorRuns = levels[0]!;
  const doors = {
    runs: doorRuns,
    ados: await governedBatch(client, workers, chain5(), doorRuns, { name: 'chain5' }),
    plain: await governedBatch(client, workers, chain5(), doorRuns, { name: 'chain5', door: 'plain' }),
    bare: await bareBatch(client, workers, chain5(), doorRuns),
    blocks: await governedBatch(client, workers, chain5(), doorRuns, { name: 'chain5', door: 'blocks' }),
  };
  process.stderr.write(
    `  start paths (chain5 × ${doorRuns}): events ${doors.ados.eventsPerRun.total} (ados) / ${doors.plain.eventsPerRun.total} (plain) / ${doors.bare.eventsPerRun.total} (bare)\n`,
  );
  // Ten lanes, staggered across one run's length so that the runs in flight are spread out.
  const concurrency = 10;
  const staggerMs = 130;
  const governed = await governedBatch(client, workers, chain5(250), lightRuns, {
    concurrency,
    name: 'chain5-250ms',
    staggerMs,
  });
  const bare = await bareBatch(client, workers, chain5(250), lightRuns, { concurrency, staggerMs });
  const blocks = await governedBatch(client, workers, chain5(250), lightRuns, {
    concurrency,
    name: 'chain5-250ms',
    staggerMs,
    door: 'blocks',
  });
  process.stderr.write(
    `  light load (${concurrency} in flight, 250-ms nodes): p50 ${governed.latencyMs.p50} (entity) / ${blocks.latencyMs.p50} (blocks) / ${bare.latencyMs.p50} (bare) ms, start call p99 ${governed.startCallMs.p99} / ${blocks.startCallMs.p99} / ${bare.startCallMs.p99} ms\n`,
  );
  const oneNode = [{ id: 'n0', kind: 'util.sleep', params: { ms: 50, costUsd: 0.0001 } }];
  const laneRuns = lightRuns * 2;
  const lanes = {
    concurrency: 4,
    runs: laneRuns,
    governed: await governedBatch(client, workers, oneNode, laneRuns, { concurrency: 4, name: 'one-node' }),
    blocks: await governedBatch(client, workers, oneNode, laneRuns, {
      concurrency: 4,
      name: 'one-node',
      door: 'blocks',
    }),
    bare: await bareBatch(client, workers, oneNode, laneRuns, { concurrency: 4 }),
  };
  process.stderr.write(
    `  four lanes of one-node runs: p50 ${lanes.governed.latencyMs.p50} / ${lanes.blocks.latencyMs.p50} / ${lanes.bare.latencyMs.p50} ms, start call p50/p99 ${lanes.governed.startCallMs.p50}/${lanes.governed.startCallMs.p99} (entity) ${lanes.blocks.startCallMs.p50}/${lanes.blocks.startCallMs.p99} (blocks) ${lanes.bare.startCallMs.p50}/${lanes.bare.startCallMs.p99} (bare) ms\n`,
  );
  return {
    rows,
    workerOptions: BENCH_WORKER_OPTIONS,
    server: benchServerKind(),
    nodeProcesses: nodeProcesses(),
    doors,
    light: {
      concurrency,
      runs: lightRuns,
      governed,
      bare,
      p50LatencyDeltaMs: governed.latencyMs.p50 - bare.latencyMs.p50,
      blocks,
      blocksP50LatencyDeltaMs: blocks.latencyMs.p50 - bare.latencyMs.p50,
    },
    lanes,
  };
}

/**
 * Where the worker's time goes: one batch of `kind` runs on a fresh server and a worker process
 * profiled with --cpu-prof (every thread), summed by function and by area.
 */
export async function profileBatch(
  kind: 'governed' | 'bare',
  nodes: BenchNode[],
  count: number,
  dir: string,
): Promise<ProfileSummary> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await withEngineEnv(
    async (client, workers) => {
      // The profile covers the whole process; start-up is small beside a batch of this size.
      await (kind === 'governed'
        ? governedBatch(client, workers, nodes, count, { name: 'profiled' })
        : bareBatch(client, workers, nodes, count));
    },
    { cpuProfileDir: dir },
  );
  return summarizeProfile(
    readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f)),
  );
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by function (top entries), with where it lives. */
  functions: Array<{ name: string; where: string; ms: number; pct: number }>;
  /** Self time by area: workflow code in the sandbox, the SDK, protobuf, GC, idle, … */
  areas: Array<{ area: string; ms: number; pct: number }>;
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

function areaOf(url: string, name: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'native (V8, Temporal core)';
  if (/workflow-bundle|\/workflows\//.test(url) || url.startsWith('evalmachine'))
    return 'workflow code and SDK inside the sandbox';
  if (/@temporalio\/worker/.test(url)) return 'SDK worker (activations, sandbox glue)';
  if (/@temporalio\/(common|proto)|protobufjs/.test(url)) return 'payloads and protobuf';
  if (/\/activities\//.test(url)) return 'ADOS activities';
  if (/node_modules/.test(url))
    return `library: ${url
      .split('node_modules/')
      .at(-1)
      ?.split('/')
      .slice(0, url.includes('/@') ? 2 : 1)
      .join('/')}`;
  if (url.startsWith('node:') || url === '') return 'Node.js internals';
  return 'other';
}

/** Sums self time by function and by area over .cpuprofile files (one per thread). */
export function summarizeProfile(files: string[], top = 25): ProfileSummary {
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    for (const [id, us] of selfUs) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const name = functionName || '(anonymous)';
      if (name === '(idle)') continue;
      totalUs += us;
      const where = `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(bench|workflows|activities|workers|infra|api)\//, '$1/')}:${lineNumber + 1}`;
      const key = `${name}@${where}`;
      const entry = fn.get(key) ?? { name, where, us: 0 };
      entry.us += us;
      fn.set(key, entry);
      const area = areaOf(url, name);
      areas.set(area, (areas.get(area) ?? 0) + us);
    }
  }
  const pctOf = (us: number) => r1((100 * us) / totalUs);
  return {
    totalMs: Math.round(totalUs / 1000),
    functions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: Math.round(f.us / 1000), pct: pctOf(f.us) })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: Math.round(us / 1000), pct: pctOf(us) })),
  };
}

/**
 * A server (bench/target.ts: a fresh in-memory dev server unless `--address` or `--cluster`) and the
 * worker processes for `body`; what was started is stopped however it ends.
 */
export async function withEngineEnv<T>(
  body: (client: Client, workers: WorkerProcess) => Promise<T>,
  { cpuProfileDir }: { cpuProfileDir?: string } = {},
): Promise<T> {
  const server = await benchServer();
  const workers = await startWorkerProcesses(server.address, {
    nodeProcesses: nodeProcesses(),
    workers: BENCH_WORKER_OPTIONS,
    ...(cpuProfileDir ? { cpuProfileDir } : {}),
  });
  const client = await connectClient(server.address);
  try {
    return await body(client, workers);
  } finally {
    await workers.stop();
    await client.connection.close();
    await server.stop();
  }
}

/** A governed run's result, for callers that only need to know it completed. */
export type { DeliveryRunResult };
