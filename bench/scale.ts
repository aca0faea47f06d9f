/**
 * Runs in flight at scale: `npm run bench:scale [-- --cluster] [--runs 10000] [--tenants 10]
 * [--slots 100] [--hot 2000]`. Two workloads, one after the other on the same server and workers:
 *
 * - spread: `runs` one-node runs (a 100-ms node, $0.001) over `tenants` tenants of `slots`
 *   concurrent runs each, all started through ADOS's start path (admission blocks on, as the API
 *   uses them) as fast as it takes them: every run is a workflow from its start, most of them
 *   waiting for their tenant's admission, so all `runs` are in flight at once;
 * - hot: one tenant with `hot` slots and `hot` runs of a 5-s node, all admitted and running at once.
 *
 * Reported per workload: runs started and completed, runs lost (started, not completed), the start
 * and the completion rates, whether each tenant's spend equals the sum of its runs' costs, the
 * entities' largest history and continue-as-new count, the bench process's peak RSS (its workers
 * run every workflow and node) and the CPU the server's processes used (Temporal, and PostgreSQL on
 * a cluster), read from /proc.
 *
 * Writes bench/results/scale-{dev|cluster}.json.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { admitFromBlocks } from '../activities/admission';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../api/client';
import { DEFAULT_ADMISSION_BLOCK_SECONDS } from '../infra/config';
import type { deliveryRun } from '../workflows';
import { toMicros } from '../workflows/policy/catalog';
import { tenantBudgetWorkflowId } from '../workflows/policy/ids';
import { runBench, withBenchEnv, writeReport } from './harness';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

const TICKS_PER_SECOND = 100;
/** CPU seconds used so far by the server's processes: Temporal's and PostgreSQL's. */
function serverCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!/^(temporal|temporal-server|server|postgres)$/.test(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A process that ended meanwhile.
    }
  }
  return ticks / TICKS_PER_SECOND;
}

interface ScaleRow {
  workload: string;
  tenants: number;
  slotsPerTenant: number;
  runs: number;
  started: number;
  completed: number;
  lost: number;
  byStatus: Record<string, number>;
  startSeconds: number;
  startsPerSecond: number;
  totalSeconds: number;
  runsPerSecond: number;
  /** Runs open at once, at most, as visibility counted them. */
  peakOpen: number;
  spendExact: boolean;
  spend: Array<{ tenantId: string; spentMicros: number; sumOfRunsMicros: number }>;
  entity: { largestHistory: number; continueAsNew: number };
  peakRssMb: number;
  serverCpuSeconds: number;
}

async function workload(
  client: Client,
  name: string,
  { tenants, slots, runs, nodeMs }: { tenants: number; slots: number; runs: number; nodeMs: number },
): Promise<ScaleRow> {
  const ids = Array.from({ length: tenants }, (_, t) => `${name}-${t}`);
  for (const tenantId of ids)
    await configureTenant(client, tenantId, { budgetUsd: 10_000, maxConcurrentRuns: slots, backpressureThreshold: 1 });
  let peakRss = process.memoryUsage().rss;
  let peakOpen = 0;
  const rss = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  const cpuBefore = serverCpuSeconds();
  const began = Date.now();
  const started: Array<{ tenantId: string; workflowId: string }> = [];
  const BATCH = 200;
  try {
    for (let i = 0; i < runs; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, runs - i) }, (_, j) => {
          const tenantId = ids[(i + j) % tenants]!;
          return startRun(client, {
            tenantId,
            runId: `r-${i + j}`,
            dag: { nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: nodeMs, costUsd: 0.001 } }] },
          }).then((h) => ({ tenantId, workflowId: h.workflowId }));
        }),
      );
      started.push(...batch);
    }
    const startSeconds = (Date.now() - began) / 1000;
    const query = `WorkflowType = 'deliveryRun' AND WorkflowId STARTS_WITH 'delivery-run:${name}-'`;
    for (;;) {
      const open = (await client.workflow.count(`${query} AND ExecutionStatus = 'Running'`)).count;
      peakOpen = Math.max(peakOpen, open);
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    const totalSeconds = (Date.now() - began) / 1000;
    const cpu = serverCpuSeconds() - cpuBefore;
    // Every run's outcome, 100 at a time.
    const outcomes: Array<{ tenantId: string; status: string; costMicros: number }> = [];
    for (let i = 0; i < started.length; i += 100)
      outcomes.push(
        ...(await Promise.all(
          started.slice(i, i + 100).map(async ({ tenantId, workflowId }) => {
            const r = await runOutcome(client.workflow.getHandle<typeof deliveryRun>(workflowId)).catch(
              () => undefined,
            );
            return { tenantId, status: r?.status ?? 'FAILED', costMicros: r ? toMicros(r.costUsd) : 0 };
          }),
        )),
      );
    const byStatus: Record<string, number> = {};
    for (const o of outcomes) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    const spend = [];
    for (const tenantId of ids) {
      const sumOfRunsMicros = outcomes.filter((o) => o.tenantId === tenantId).reduce((s, o) => s + o.costMicros, 0);
      let status = await tenantStatus(client, tenantId);
      for (
        let i = 0;
        i < 100 && (status.runsInFlight.length > 0 || toMicros(status.spentUsd) !== sumOfRunsMicros);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 200));
        status = await tenantStatus(client, tenantId);
      }
      spend.push({ tenantId, spentMicros: toMicros(status.spentUsd), sumOfRunsMicros });
    }
    let largestHistory = 0;
    let executions = 0;
    for (const tenantId of ids)
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'` })) {
        executions++;
        const { historyLength } = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
        largestHistory = Math.max(largestHistory, historyLength);
      }
    const completed = byStatus.COMPLETED ?? 0;
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      workload: name,
      tenants,
      slotsPerTenant: slots,
      runs,
      started: started.length,
      completed,
      lost: started.length - completed,
      byStatus,
      startSeconds: round(startSeconds),
      startsPerSecond: round(started.length / startSeconds),
      totalSeconds: round(totalSeconds),
      runsPerSecond: round(completed / totalSeconds),
      peakOpen,
      spendExact: spend.every((s) => s.spentMicros === s.sumOfRunsMicros),
      spend,
      entity: { largestHistory, continueAsNew: executions - ids.length },
      peakRssMb: Math.round(peakRss / 2 ** 20),
      serverCpuSeconds: round(cpu),
    };
  } finally {
    clearInterval(rss);
  }
}

async function main(): Promise<void> {
  const runs = arg('--runs', 10_000);
  const tenants = arg('--tenants', 10);
  const slots = arg('--slots', 100);
  const hot = arg('--hot', 2_000);
  const onCluster = process.argv.includes('--cluster');
  const rows = await withBenchEnv(
    { workers: { nodeConcurrency: 200, workflowConcurrency: 200 } },
    async (client, server) => {
      admitFromBlocks(client, { starter: `bench.${process.pid}`, ttlSeconds: DEFAULT_ADMISSION_BLOCK_SECONDS });
      process.stderr.write(`scale bench on ${server.kind}\n`);
      const spread = await workload(client, 'spread', { tenants, slots, runs, nodeMs: 100 });
      process.stderr.write(`${JSON.stringify(spread)}\n`);
      const hotRow = await workload(client, 'hot', { tenants: 1, slots: hot, runs: hot, nodeMs: 5_000 });
      process.stderr.write(`${JSON.stringify(hotRow)}\n`);
      return { server: server.kind, rows: [spread, hotRow] };
    },
  );
  writeReport(`scale-${onCluster ? 'cluster' : 'dev'}`, { ...rows, at: new Date().toISOString() });
}

runBench(main);
