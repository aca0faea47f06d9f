/**
 * `npm run bench` / `ados bench`: ADOS measured against bare Temporal on the same dev server.
 * Writes bench/results/latest.json, latest.md (the table the README includes) and chart.svg.
 * `--quick` keeps every scenario small (under 3 minutes on 2 cores); the full run stays under 20.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun } from '../api/client';
import { findTemporalCli } from '../infra/temporal-cli';
import { decideCost } from '../workflows/domain/run/cost-agent';
import { tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { GOVERNED_CHAIN5, PLAIN_CHAIN5, chain5, diamond10 } from '../testkit/workloads';
import { measureEngine, withEngineEnv, type EngineBatch, type EngineReport } from './engine';
import { measureLearning } from './learning';
import { measureCodec, type CodecReport } from './codec';
import { measureBudgetRaces } from './budget-races';
import { withBenchEnv, writeReport } from './harness';
import { benchServerKind } from './target';
import { measureStarts, type StartsReport } from './starts';
import { percentile as pct } from './stats';

const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Peak resident memory of this process (server excluded), sampled while a scenario runs. */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
  return { stop: () => (clearInterval(timer), Math.round(peak / 2 ** 20)) };
}

/** Entity chain of a tenant: history lengths and messages (signals in and out). */
async function entityFigures(client: Client, tenantId: string) {
  let signals = 0;
  let peak = 0;
  let runs = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'` })) {
    const events = (await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [];
    runs++;
    peak = Math.max(peak, events.length);
    // Messages: signals in and out, and updates (each admitRuns update admits a batch of runs).
    signals += events.filter(
      (e) =>
        e.workflowExecutionSignaledEventAttributes ||
        e.signalExternalWorkflowExecutionInitiatedEventAttributes ||
        e.workflowExecutionUpdateAcceptedEventAttributes,
    ).length;
  }
  return { signals, peakHistory: peak, continueAsNew: Math.max(0, runs - 1) };
}

/** T tenants × N concurrent runs of a 5-node chain of 20-ms nodes. */
async function scale(client: Client, name: string, tenants: number, runsPerTenant: number) {
  const rss = rssSampler();
  const ids = Array.from({ length: tenants }, (_, t) => `${name}-${t}`);
  for (const tenantId of ids)
    await configureTenant(client, tenantId, {
      budgetUsd: 1e6,
      maxConcurrentRuns: runsPerTenant,
      backpressureThreshold: 1,
      learning: { intensity: 'CONSERVATIVE' },
    });
  const began = Date.now();
  const latencies: number[] = [];
  const admissionWaits: number[] = [];
  const startCalls: number[] = [];
  const byStatus: Record<string, number> = {};
  let lost = 0;
  await Promise.all(
    ids.flatMap((tenantId) =>
      Array.from({ length: runsPerTenant }, async (_, i) => {
        const t0 = Date.now();
        try {
          const h = await startRun(client, { tenantId, runId: `s-${i}`, dag: { nodes: chain5(20) } });
          startCalls.push(Date.now() - t0);
          // unref: a pending loss timer must not keep the process alive once everything finished.
          const result = await Promise.race([
            runOutcome(h),
            new Promise<undefined>((r) => setTimeout(() => r(undefined), 600_000).unref()),
          ]);
          if (!result) {
            lost++;
            return;
          }
          byStatus[result.status] = (byStatus[result.status] ?? 0) + 1;
          latencies.push(Date.now() - t0);
          const first = result.decisions[0];
          if (first) admissionWaits.push(Math.max(0, Date.parse(first.at) - t0));
        } catch {
          byStatus.ERROR = (byStatus.ERROR ?? 0) + 1;
        }
      }),
    ),
  );
  const wallMs = Date.now() - began;
  const entities = await Promise.all(ids.map((id) => entityFigures(client, id)));
  const total = tenants * runsPerTenant;
  return {
    tenants,
    runsPerTenant,
    inFlight: total,
    byStatus,
    lost,
    wallMs,
    nodesPerSec: r1((total * 5 * 1000) / wallMs),
    latencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99) },
    admissionWaitMs: { p50: pct(admissionWaits, 50), p99: pct(admissionWaits, 99) },
    /** The client's start call (validation + StartWorkflowExecution), while everything else is also starting. */
    startCallMs: { p50: pct(startCalls, 50), p99: pct(startCalls, 99) },
    entityMessagesPerRun: r3(entities.reduce((s, e) => s + e.signals, 0) / total),
    peakEntityHistory: Math.max(...entities.map((e) => e.peakHistory)),
    entityContinueAsNew: entities.reduce((s, e) => s + e.continueAsNew, 0),
    workerRssMb: rss.stop(),
  };
}

/** The CostAgent itself, in-process: the pure decision, timed over many calls. */
function costAgentMicros(): number {
  const pressure = {
    budgetMicros: 1e8,
    spentMicros: 5e7,
    othersCommittedMicros: 1e7,
    activeRuns: 8,
    maxConcurrentRuns: 10,
    backpressureThreshold: 0.8,
    thresholds: { warning: 0.7, critical: 0.9 },
    budgetStatus: 'HEALTHY' as const,
  };
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++)
    decideCost({
      pressure,
      unreportedMicros: i % 1000,
      remainingFullMicros: 2e6,
      remainingDegradedMicros: 1e6,
      nodesDone: i % 5,
      nodesTotal: 5,
      alreadyDegraded: false,
    });
  return r3(Number(process.hrtime.bigint() - t0) / 1000 / n);
}

export async function runBenchSuite({ quick }: { quick: boolean }): Promise<void> {
  const limitWarnings: string[] = [];
  const capture = (message: string, meta?: unknown) => {
    const line = `${message} ${meta ? JSON.stringify(meta) : ''}`;
    if (/limit|exceed|too many|resource ?exhausted|throttl/i.test(line)) limitWarnings.push(line.slice(0, 300));
  };
  const noop = () => undefined;
  Runtime.install({ logger: { log: noop, trace: noop, debug: noop, info: noop, warn: capture, error: capture } });
  const began = Date.now();
  process.stderr.write('governed vs bare (the engine tax) …\n');
  // Workers in a process of their own, so that their CPU per run is theirs alone.
  const engine = await withEngineEnv((client, workers) =>
    measureEngine(client, workers, {
      levels: quick ? [50] : [50, 200],
      shapes: [
        ['chain5', chain5()],
        ['diamond10', diamond10()],
      ],
      lightRuns: quick ? 30 : 60,
      rounds: quick ? 1 : 3,
    }),
  );
  process.stderr.write('payload encryption: codec off vs on …\n');
  const codec = await measureCodec({ runs: quick ? 50 : 200, rounds: quick ? 1 : 3 });
  process.stderr.write('HTTP starts: 50 clients, one tenant and ten, entity and blocks, and bare …\n');
  const starts = await measureStarts({ quick });
  const report = await withBenchEnv({ workers: { nodeConcurrency: 100, workflowConcurrency: 100 } }, async (client) => {
    process.stderr.write('scale …\n');
    const scaled = await scale(client, 'scale', quick ? 4 : 10, quick ? 25 : 100);
    process.stderr.write('hot tenant …\n');
    const hot = { ...(await scale(client, 'hot', 1, quick ? 100 : 500)), limitWarnings: [...limitWarnings] };
    process.stderr.write('budget races …\n');
    const budgetRaces = await measureBudgetRaces(client, { quick });
    process.stderr.write('projection accuracy …\n');
    const learning = await measureLearning(client, { quick, prefix: 'learn-' });
    return { scale: scaled, hotTenant: hot, budgetRaces, projection: learning.projection, learner: learning.learner };
  });
  const temporalVersion = execFileSync(findTemporalCli(), ['--version'], { encoding: 'utf8' }).trim();
  const full = {
    quick,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      temporal: temporalVersion,
      server: benchServerKind(),
      platform: `${process.platform} ${process.arch}`,
    },
    costAgentDecisionMicros: costAgentMicros(),
    engine,
    codec,
    starts,
    ...report,
    elapsedMs: Date.now() - began,
    at: new Date().toISOString(),
  };
  writeReport('latest', full);
  renderResults();
}

/**
 * Writes latest.md and the chart from latest.json, and includes the table in the README and
 * docs/PERFORMANCE.md. A budget-races.json newer than latest.json (from `bench/budget-races.ts`
 * run on its own) takes the place of the suite's.
 */
export function renderResults(): void {
  const results = join(__dirname, 'results');
  const full = JSON.parse(readFileSync(join(results, 'latest.json'), 'utf8')) as Record<string, unknown> & {
    at: string;
  };
  const racesFile = join(results, 'budget-races.json');
  if (existsSync(racesFile)) {
    const races = JSON.parse(readFileSync(racesFile, 'utf8')) as { at: string };
    if (!full.budgetRaces || races.at > full.at) full.budgetRaces = races;
  }
  const table = markdown(full);
  writeFileSync(join(results, 'latest.md'), table);
  // The README and docs/PERFORMANCE.md include the table between their bench markers.
  for (const file of [join(__dirname, '..', 'README.md'), join(__dirname, '..', 'docs', 'PERFORMANCE.md')])
    includeTable(file, table);
  execFileSync(
    process.execPath,
    [join(__dirname, 'chart.mjs'), join(results, 'latest.json'), join(results, 'chart.svg')],
    { stdio: 'inherit' },
  );
  process.stderr.write(`\n${table}\n`);
}

function includeTable(file: string, table: string): void {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('<!-- bench:start -->');
  const end = text.indexOf('<!-- bench:end -->');
  if (start < 0 || end < start) return;
  writeFileSync(file, `${text.slice(0, start)}<!-- bench:start -->\n${table}\n${text.slice(end)}`);
}

function markdown(r: Record<string, unknown>): string {
  const x = r as unknown as {
    quick: boolean;
    machine: { cores: number; memoryGiB: number; node: string; temporal: string; server?: string };
    costAgentDecisionMicros: number;
    engine: EngineReport;
    scale: Omit<Awaited<ReturnType<typeof scale>>, 'startCallMs'> & { startCallMs?: { p50: number; p99: number } };
    hotTenant: Awaited<ReturnType<typeof scale>> & { limitWarnings: string[] };
    projection: {
      cold: { startMeanPct: number; halfMeanPct: number };
      warm: { startMeanPct: number; halfMeanPct: number };
    };
    budgetRaces?: { exact: Race; inexact: Race; predicted?: Race };
    codec?: CodecReport;
    starts?: StartsReport;
    elapsedMs: number;
  };
  type Race = {
    runs: number;
    budgetUsd: number;
    completed: number;
    spentUsd: number;
    overspendUsd: number;
    boundUsd: number;
    spendEqualsRunCosts: boolean;
  };
  const race = (label: string, r: Race) =>
    `| ${label} | ${r.runs} | $${r.budgetUsd} | ${r.completed} | $${r.spentUsd} | **$${r.overspendUsd}** | $${r.boundUsd} | ${r.spendEqualsRunCosts ? 'yes' : 'NO'} |`;
  const s = x.scale;
  const h = x.hotTenant;
  const e = x.engine;
  const ev = (b: EngineBatch) =>
    `${b.eventsPerRun.total} (${b.eventsPerRun.run} + ${b.eventsPerRun.children} + ${b.eventsPerRun.entity})`;
  const l = e.light;
  return [
    ...(x.starts ? [goalsTable(e, x.starts, readScaleCluster()), ''] : []),
    `Measured ${x.quick ? 'with --quick ' : ''}on ${x.machine.cores} cores, ${x.machine.memoryGiB} GiB, Node ${x.machine.node}, ${x.machine.server ?? `${x.machine.temporal} (embedded dev server, SQLite in memory)`}; ${Math.round(x.elapsedMs / 1000)} s in all.`,
    '',
    '| governed (deliveryRun) vs bare Temporal, same DAGs, same server and worker process; ratios are medians of the rounds | in flight | wall governed / bare | wall ratio (goal ≤ 1.15) | history events per run: governed (run + started workflows + entity share) / bare | events ratio (goal ≤ 1.3) | workflow tasks per run governed / bare | worker CPU ms per run governed / bare | CPU ratio (goal ≤ 1.15) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...e.rows.map(
      (r) =>
        `| ${r.dag} | ${r.inFlight} | ${r.governed.wallMs} / ${r.bare.wallMs} ms | **${r.wallRatio}** | ${ev(r.governed)} / ${r.bare.eventsPerRun.total} | **${r.eventsRatio}** | ${r.governed.workflowTasksPerRun} / ${r.bare.workflowTasksPerRun} | ${r.governed.workerCpuMsPerRun} / ${r.bare.workerCpuMsPerRun} | **${r.cpuRatio}** |`,
    ),
    '',
    `Below saturation, ${l.concurrency} runs in flight of a chain of five 250-ms nodes (${l.runs} runs each): run latency p50 governed ${l.governed.latencyMs.p50} ms, bare ${l.bare.latencyMs.p50} ms, **+${l.p50LatencyDeltaMs} ms** by the entity, **+${l.blocksP50LatencyDeltaMs ?? '–'} ms** from blocks (goal ≤ 15 ms); the start call p50 / p99 governed ${l.governed.startCallMs.p50} / **${l.governed.startCallMs.p99} ms** by the entity, ${l.blocks?.startCallMs.p50 ?? '–'} / **${l.blocks?.startCallMs.p99 ?? '–'} ms** from blocks (goal p99 ≤ 15 ms), bare ${l.bare.startCallMs.p50} / ${l.bare.startCallMs.p99} ms. A governed chain5 run's own history is pinned by a test at ${GOVERNED_CHAIN5.runEvents} events (bare ${GOVERNED_CHAIN5.bareEvents}).`,
    '',
    ...(e.doors
      ? [
          `| start path: governed chain5 × ${e.doors.runs}, same server and worker | history events per run (run + started workflows + entity share) | events / bare | workflow tasks per run | worker CPU ms per run | wall |`,
          '|---|---|---|---|---|---|',
          ...(
            [
              [
                'ADOS start (`ados run start`, the API, the TypeScript client): the launch rides in the start',
                e.doors.ados,
              ],
              ['plain Temporal start (`temporal workflow start`): its worker makes the launch', e.doors.plain],
              ['bare Temporal (no governance)', e.doors.bare],
            ] as const
          ).map(
            ([label, b]) =>
              `| ${label} | ${ev(b)} | **${Math.round((b.eventsPerRun.total / e.doors!.bare.eventsPerRun.total) * 1000) / 1000}** | ${b.workflowTasksPerRun} | ${b.workerCpuMsPerRun} | ${b.wallMs} ms |`,
          ),
          '',
          `Pinned by a test: a chain5 run's own history is ${GOVERNED_CHAIN5.runEvents} events started by ADOS and ${PLAIN_CHAIN5.runEvents} started plain (bare ${GOVERNED_CHAIN5.bareEvents}); the plain start's two more are the settings marker that carries its launch and the upsert of its first status, which an ADOS starter sets with the start.`,
          '',
        ]
      : []),
    '| scenario | runs in flight | completed / other / lost | nodes/s | run latency p50 / p95 / p99 | admission wait p50 / p99 | entity messages per run | peak entity history | worker RSS |',
    '|---|---|---|---|---|---|---|---|---|',
    `| scale: ${s.tenants} tenants × ${s.runsPerTenant} | ${s.inFlight} | ${s.byStatus.COMPLETED ?? 0} / ${s.inFlight - (s.byStatus.COMPLETED ?? 0) - s.lost} / ${s.lost} | ${s.nodesPerSec} | ${s.latencyMs.p50} / ${s.latencyMs.p95} / ${s.latencyMs.p99} ms | ${s.admissionWaitMs.p50} / ${s.admissionWaitMs.p99} ms | ${s.entityMessagesPerRun} | ${s.peakEntityHistory} | ${s.workerRssMb} MiB |`,
    `| hot tenant | ${h.inFlight} | ${h.byStatus.COMPLETED ?? 0} / ${h.inFlight - (h.byStatus.COMPLETED ?? 0) - h.lost} / ${h.lost} | ${h.nodesPerSec} | ${h.latencyMs.p50} / ${h.latencyMs.p95} / ${h.latencyMs.p99} ms | ${h.admissionWaitMs.p50} / ${h.admissionWaitMs.p99} ms | ${h.entityMessagesPerRun} | ${h.peakEntityHistory} | ${h.workerRssMb} MiB |`,
    '',
    ...(x.budgetRaces
      ? [
          '| budget race: concurrent one-node runs | runs | budget | nodes run | spent | overspend | bound (estimate error of nodes run) | spend = Σ run costs |',
          '|---|---|---|---|---|---|---|---|',
          race('exact estimates ($0.10)', x.budgetRaces.exact),
          race('estimates 50% low ($0.10 for $0.15)', x.budgetRaces.inexact),
          ...(x.budgetRaces.predicted
            ? [
                race(
                  'RAG runs, LLM costs predicted by the token model (warmed, room for half)',
                  x.budgetRaces.predicted,
                ),
              ]
            : []),
          '',
        ]
      : []),
    ...(x.codec ? [codecTable(x.codec), ''] : []),
    "| ADOS's founding design claimed | ADOS measured |",
    '|---|---|',
    `| task submission < 1 ms | start call (validation, admission, StartWorkflowExecution) p50 ${l.governed.startCallMs.p50} ms, p99 ${l.governed.startCallMs.p99} ms below saturation (bare start: ${l.bare.startCallMs.p50} / ${l.bare.startCallMs.p99} ms)${s.startCallMs ? `; p50 ${s.startCallMs.p50} ms, p99 ${s.startCallMs.p99} ms with ${s.inFlight} starting at once` : ''} |`,
    `| budget check < 5 ms | CostAgent decision ${x.costAgentDecisionMicros} µs in-process; the budget lease means no round trip per node |`,
    `| concurrency control < 10 ms | admission wait p99 ${s.admissionWaitMs.p99} ms (${s.inFlight} in flight), ${h.admissionWaitMs.p99} ms (hot tenant, ${h.inFlight}) |`,
    `| degradation < 50 ms | a DEGRADE is the same local decision (${x.costAgentDecisionMicros} µs) plus replanning; no extra round trip |`,
    `| 10–100 concurrent tasks | ${s.inFlight} runs (${s.inFlight * 5} nodes) in flight, ${s.lost} lost; hot tenant ${h.inFlight} runs, ${h.limitWarnings.length} Temporal limit errors |`,
    `| 100–1,000 tasks/hour/worker | ${Math.round(s.nodesPerSec * 3600)} nodes/hour on one worker process |`,
    `| projection accuracy 80–95% | error at half-way: ${x.projection.warm.halfMeanPct}% warm, ${x.projection.cold.halfMeanPct}% cold; at start ${x.projection.warm.startMeanPct}% warm |`,
    '',
    `Run artifacts are written by the export sweep (every 10 s), not by the runs: its cost is not in the governed columns above.`,
    '',
  ].join('\n');
}

/** Payload encryption's cost per run: codec off and on, governed and bare (bench/codec.ts). */
function codecTable(c: CodecReport): string {
  const pct = (on: number, off: number) => `${on >= off ? '+' : ''}${Math.round(((on - off) / off) * 100)}%`;
  const row = (k: 'governed' | 'bare') =>
    `| ${k} chain5 × ${c.runs} | ${c.none[k].workerCpuMsPerRun} / ${c.aes[k].workerCpuMsPerRun} ms | **${c.cpuMsPerRun[k] >= 0 ? '+' : ''}${c.cpuMsPerRun[k]} ms** | ${c.none[k].historyBytesPerRun} / ${c.aes[k].historyBytesPerRun} B | **+${c.historyBytesPerRun[k]} B** (${pct(c.aes[k].historyBytesPerRun, c.none[k].historyBytesPerRun)}) |`;
  return [
    `| payload encryption (AES-256-GCM, per-tenant keys): codec off / on, each on its own fresh server; CPU: median of ${c.rounds} round${c.rounds > 1 ? 's' : ''} | worker CPU per run off / on | codec CPU per run | stored history per run off / on (run + started workflows + entity share) | codec bytes per run |`,
    '|---|---|---|---|---|',
    row('governed'),
    row('bare'),
    '',
    `The codec alone, in one process: sealing and opening the ${c.inProcess.payloads} payloads of one governed chain5 run's own history (${c.inProcess.plainBytes} B plain, ${c.inProcess.sealedBytes} B sealed) takes **${c.inProcess.sealAndOpenMicros} µs**.`,
  ].join('\n');
}

/** The last 10,000-run cluster measurement (`npm run bench:scale -- --cluster`), if one was recorded. */
function readScaleCluster(): ScaleCluster | undefined {
  const file = join(__dirname, 'results', 'scale-cluster.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ScaleCluster) : undefined;
}

/** The plain-start rate of 10,000 runs on the cluster on 2026-12-04, on the machine of that day (25 min, 10 tenants × 100 slots). */
const CLUSTER_RUNS_PER_SECOND_BEFORE = 6.6;

interface ScaleCluster {
  at: string;
  rows: Array<{
    door: string;
    runs: number;
    completed: number;
    runsPerSecond: number;
    spendExact: boolean;
    lastQuarterOverFirst: number | null;
    controlBacklog: { maxAgeS: number };
  }>;
}

/**
 * Governance at bare speed: each goal, the figure before this work began (a fixed record) and the
 * figure this bench run measured, side by side with bare Temporal's. The cluster row is read from
 * the last `bench:scale -- --cluster` result, with its date: it takes 15 minutes on its own.
 */
function goalsTable(e: EngineReport, starts: StartsReport, cluster: ScaleCluster | undefined): string {
  const chain5 = e.rows.filter((r) => r.dag === 'chain5');
  const each = (f: (r: (typeof chain5)[number]) => number) =>
    chain5.map((r) => `${f(r)} (× ${r.inFlight})`).join(' · ');
  const mark = (met: boolean) => (met ? 'met' : '**missed**');
  const blocks = starts.settings.find((x) => x.admissionBlockSeconds > 0);
  const oneTenant = blocks?.rows.find((r) => r.tenants === 1);
  const lanes = e.lanes;
  const light = e.light;
  const startP99 = [light.blocks?.startCallMs.p99, lanes?.blocks.startCallMs.p99].filter((v) => v !== undefined);
  const latencyDeltas = [
    light.blocksP50LatencyDeltaMs,
    lanes ? lanes.blocks.latencyMs.p50 - lanes.bare.latencyMs.p50 : undefined,
  ].filter((v) => v !== undefined);
  const plain = cluster?.rows.find((r) => r.door === 'plain');
  const bare = cluster?.rows.find((r) => r.door === 'bare');
  const rows: string[][] = [
    [
      'governed / bare wall ratio, chain5 in flight',
      '1.17–1.49',
      each((r) => r.wallRatio),
      '≤ 1.15',
      mark(chain5.every((r) => r.wallRatio <= 1.15)),
    ],
    [
      'governed / bare worker CPU per run',
      '1.2–1.42',
      each((r) => r.cpuRatio),
      '≤ 1.15',
      mark(chain5.every((r) => r.cpuRatio <= 1.15)),
    ],
    [
      'start call p99 below saturation, from blocks (bare)',
      '79–91 ms',
      `${startP99.join(' · ')} ms (bare ${light.bare.startCallMs.p99}${lanes ? ` · ${lanes.bare.startCallMs.p99}` : ''})`,
      '≤ 15 ms',
      mark(startP99.every((v) => v <= 15)),
    ],
    [
      `HTTP starts, ${oneTenant?.clients ?? 50} clients on one tenant: accepted / POST p99 (bare start)`,
      '14/s, 25 s',
      oneTenant
        ? `${oneTenant.acceptedPerSecond}/s, ${oneTenant.postMs.p99} ms (bare ${starts.bare.startsPerSecond}/s, ${starts.bare.startMs.p99} ms)`
        : 'not measured',
      '≥ 100/s, ≤ 250 ms',
      mark(!!oneTenant && oneTenant.acceptedPerSecond >= 100 && oneTenant.postMs.p99 <= 250),
    ],
    [
      'run latency p50 over bare, below saturation (five 250-ms nodes · one 50-ms node)',
      '+50 to +151 ms',
      latencyDeltas.map((d) => `${d >= 0 ? '+' : ''}${d} ms`).join(' · '),
      '≤ +15 ms',
      mark(latencyDeltas.every((d) => d <= 15)),
    ],
    [
      "one tenant's throughput ÷ ten tenants', from blocks",
      'not measured',
      `${blocks?.oneTenantOverTen ?? 'not measured'}`,
      '≥ 0.9',
      mark((blocks?.oneTenantOverTen ?? 0) >= 0.9),
    ],
    [
      '10,000 runs at once from a plain client on the cluster (10 tenants × 100 slots): rate beside bare Temporal, every run completed, spend exact',
      `${CLUSTER_RUNS_PER_SECOND_BEFORE} runs/s (another machine, 2026-12-04)`,
      plain
        ? `${plain.runsPerSecond} runs/s${bare ? ` (bare ${bare.runsPerSecond}: ${Math.round((plain.runsPerSecond / bare.runsPerSecond) * 100) / 100}×)` : ''}, ${plain.completed}/${plain.runs} completed, spend ${plain.spendExact ? 'exact' : 'NOT exact'}; last quarter ${plain.lastQuarterOverFirst ?? '?'}× the first; control backlog at most ${plain.controlBacklog.maxAgeS} s old (recorded ${cluster!.at.slice(0, 10)})`
        : 'not measured (`npm run bench:scale -- --cluster`)',
      '≥ 0.9× bare, all completed, exact',
      mark(
        !!plain &&
          !!bare &&
          plain.runsPerSecond >= 0.9 * bare.runsPerSecond &&
          plain.completed === plain.runs &&
          plain.spendExact,
      ),
    ],
  ];
  return [
    '| governance at bare speed | before | now | goal | |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
