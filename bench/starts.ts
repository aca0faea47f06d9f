/**
 * Run starts under load through the HTTP API: the API in its own process (`ados api`), 50
 * concurrent clients, each sending run starts with a tenant token, 400 starts in all, the rate
 * limit raised and no tenant cap binding. Two workloads, on the same server one after the other:
 * every client on one tenant (a hot tenant: 50 clients over its 20 tokens), and the clients spread
 * over ten tenants (5 each, a token each). Reported per workload: starts accepted per second, the
 * POST latency's deciles, p99 and maximum, runs completed per second, and whether each tenant's
 * spend equals the sum of its runs' costs. Their ratio is one tenant's throughput ÷ ten tenants'.
 * Both workloads run twice, on an API process of their own each time: with every start admitted by
 * its tenant's entity (ADOS_ADMISSION_BLOCK_SECONDS=0), then from admission blocks (30 s). Last, the
 * floor: 50 TypeScript clients starting the same DAG as a bare Temporal workflow (no HTTP, no
 * admission), 400 in all, on the same server and workers.
 *
 * Usage: node --import tsx bench/starts.ts [--quick] (writes bench/results/starts.json)
 */
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, tenantStatus } from '../api/client';
import { issueTenantToken } from '../api/http/tokens';
import type { deliveryRun } from '../workflows';
import { bareDag } from '../workflows/bare-dag';
import { nodeTaskQueue } from '../workflows/domain/run/routing';
import { toMicros } from '../workflows/domain/pricing/catalog';
import { CONTROL_TASK_QUEUE, tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { spawnAdosApi } from '../testkit/processes';
import { runBench, withBenchEnv, writeReport } from './harness';
import { percentile as pct } from './stats';

const CLIENTS = 50;

interface StartsRow {
  workload: string;
  tenants: number;
  clients: number;
  starts: number;
  accepted: number;
  refused: Record<string, number>;
  acceptedPerSecond: number;
  postMs: { deciles: number[]; p99: number; max: number };
  completed: number;
  completedPerSecond: number;
  spendExact: boolean;
  /** The busiest tenant's entity while it admitted: where a start's admission waits. */
  entity: EntityFigures;
}

interface EntityFigures {
  admitUpdates: number;
  /** Runs that asked by signal: their starter's admitRuns update did not answer within its timeout. */
  askedBySignal: number;
  workflowTasks: number;
  /** Workflow task schedule-to-start and start-to-complete, median and p90. */
  taskWaitMs: [number, number];
  taskRunMs: [number, number];
}

/** An entity's admitRuns updates and workflow tasks over its whole history (all its runs). */
async function entityFigures(client: Client, tenantId: string): Promise<EntityFigures> {
  let updates = 0;
  let bySignal = 0;
  const waits: number[] = [];
  const runs: number[] = [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId(tenantId)}'` })) {
    const events = (await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [];
    const at = new Map<string, number>();
    for (const e of events) {
      const id = String(e.eventId);
      at.set(id, ms(e.eventTime));
      if (e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'admitRuns') updates++;
      if (e.workflowExecutionSignaledEventAttributes?.signalName === 'requestAdmission') bySignal++;
      const started = e.workflowTaskStartedEventAttributes;
      if (started) waits.push(ms(e.eventTime) - (at.get(String(started.scheduledEventId)) ?? ms(e.eventTime)));
      const completed = e.workflowTaskCompletedEventAttributes;
      if (completed) runs.push(ms(e.eventTime) - (at.get(String(completed.startedEventId)) ?? ms(e.eventTime)));
    }
  }
  const q = (xs: number[]): [number, number] => [Math.round(pct(xs, 50)), Math.round(pct(xs, 90))];
  return {
    admitUpdates: updates,
    askedBySignal: bySignal,
    workflowTasks: runs.length,
    taskWaitMs: q(waits),
    taskRunMs: q(runs),
  };
}

/** One workload: CLIENTS clients, each with the token of its tenant, sharing `starts` run starts. */
async function workload(
  client: Client,
  url: string,
  name: string,
  tenantCount: number,
  starts: number,
): Promise<StartsRow> {
  const tenants = Array.from({ length: tenantCount }, (_, i) => `${name}-${i}`);
  const tokens = new Map<string, string[]>();
  for (const tenantId of tenants) {
    await configureTenant(client, tenantId, { budgetUsd: 1000, maxConcurrentRuns: 1000, backpressureThreshold: 1 });
    const perTenant = Math.min(20, Math.ceil(CLIENTS / tenantCount));
    const issued: string[] = [];
    for (let i = 0; i < perTenant; i++) issued.push((await issueTenantToken(client, tenantId)).token);
    tokens.set(tenantId, issued);
  }
  let next = 0;
  const latencies: number[] = [];
  const refused: Record<string, number> = {};
  const accepted: Array<{ tenantId: string; workflowId: string }> = [];
  const began = Date.now();
  let lastAccepted = began;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const tenantId = tenants[c % tenantCount]!;
      const own = tokens.get(tenantId)!;
      const token = own[Math.floor(c / tenantCount) % own.length]!;
      for (let i = next++; i < starts; i = next++) {
        const t0 = performance.now();
        const res = await fetch(`${url}/v1/tenants/${tenantId}/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            runId: `s-${i}`,
            dag: { nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: 50, costUsd: 0.001 } }] },
          }),
        });
        const body = (await res.json()) as { workflowId?: string; code?: string };
        latencies.push(performance.now() - t0);
        if (res.status === 202 && body.workflowId) {
          accepted.push({ tenantId, workflowId: body.workflowId });
          lastAccepted = Date.now();
        } else {
          const key = `${res.status} ${body.code ?? ''}`.trim();
          refused[key] = (refused[key] ?? 0) + 1;
        }
      }
    }),
  );
  const results = await Promise.all(
    accepted.map(({ workflowId }) => runOutcome(client.workflow.getHandle<typeof deliveryRun>(workflowId))),
  );
  const finished = Date.now();
  let spendExact = true;
  for (const tenantId of tenants) {
    const expected = results.filter((r) => r.tenantId === tenantId).reduce((sum, r) => sum + toMicros(r.costUsd), 0);
    let spent = -1;
    for (let i = 0; i < 100 && spent !== expected; i++) {
      const status = await tenantStatus(client, tenantId);
      spent = status.runsInFlight.length === 0 ? toMicros(status.spentUsd) : -1;
      if (spent !== expected) await new Promise((r) => setTimeout(r, 200));
    }
    spendExact &&= spent === expected;
  }
  const round = (x: number) => Math.round(x);
  return {
    workload: name,
    tenants: tenantCount,
    clients: CLIENTS,
    starts,
    accepted: accepted.length,
    refused,
    acceptedPerSecond: Math.round((accepted.length / ((lastAccepted - began) / 1000)) * 10) / 10,
    postMs: {
      deciles: [10, 20, 30, 40, 50, 60, 70, 80, 90].map((p) => round(pct(latencies, p))),
      p99: round(pct(latencies, 99)),
      max: round(pct(latencies, 100)),
    },
    completed: results.filter((r) => r.status === 'COMPLETED').length,
    completedPerSecond: Math.round((results.length / ((finished - began) / 1000)) * 10) / 10,
    spendExact,
    entity: await entityFigures(client, tenants[0]!),
  };
}

/** The floor: CLIENTS clients starting the same one-node DAG as a bare workflow, straight to Temporal. */
async function bareStarts(client: Client, starts: number) {
  const tenantId = 'starts-bare';
  let next = 0;
  const latencies: number[] = [];
  const handles: Array<Promise<unknown>> = [];
  const began = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < starts; i = next++) {
        const t0 = performance.now();
        const handle = await client.workflow.start(bareDag, {
          workflowId: `bare:${tenantId}:s-${i}`,
          taskQueue: CONTROL_TASK_QUEUE,
          args: [
            {
              runId: `s-${i}`,
              tenantId,
              taskQueue: nodeTaskQueue({ tenantId }),
              maxParallelism: 8,
              nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: 50, costUsd: 0.001 } }],
            },
          ],
        });
        latencies.push(performance.now() - t0);
        handles.push(handle.result());
      }
    }),
  );
  const startedIn = Date.now() - began;
  await Promise.all(handles);
  return {
    workload: 'bare-starts',
    clients: CLIENTS,
    starts,
    startsPerSecond: Math.round((starts / (startedIn / 1000)) * 10) / 10,
    startMs: {
      deciles: [10, 20, 30, 40, 50, 60, 70, 80, 90].map((p) => Math.round(pct(latencies, p))),
      p99: Math.round(pct(latencies, 99)),
      max: Math.round(pct(latencies, 100)),
    },
    completedPerSecond: Math.round((starts / ((Date.now() - began) / 1000)) * 10) / 10,
  };
}

export type StartsReport = Awaited<ReturnType<typeof measureStarts>>;

/** Both workloads with the entity admitting and from blocks, then bare starts; one dev server. */
export async function measureStarts({ quick }: { quick: boolean }) {
  const starts = quick ? 100 : 400;
  const measured = await withBenchEnv({}, async (client, server) => {
    const bySetting: Array<{ admissionBlockSeconds: number; rows: StartsRow[] }> = [];
    // Each start admitted by its tenant's entity, then by the API from admission blocks.
    for (const admissionBlockSeconds of [0, 30]) {
      const { child: api, url } = await spawnAdosApi({
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        ADOS_ADMIN_TOKEN: 'admin-token-for-the-starts-bench',
        ADOS_ADMISSION_BLOCK_SECONDS: String(admissionBlockSeconds),
      });
      try {
        const tag = admissionBlockSeconds > 0 ? 'blocks' : 'entity';
        bySetting.push({
          admissionBlockSeconds,
          rows: [
            await workload(client, url, `ten-tenants-${tag}`, 10, starts),
            await workload(client, url, `one-tenant-${tag}`, 1, starts),
          ],
        });
      } finally {
        api.kill('SIGTERM');
      }
    }
    return { bySetting, bare: await bareStarts(client, starts) };
  });
  return {
    quick,
    settings: measured.bySetting.map(({ admissionBlockSeconds, rows }) => ({
      admissionBlockSeconds,
      rows,
      oneTenantOverTen: Math.round((rows[1]!.completedPerSecond / rows[0]!.completedPerSecond) * 100) / 100,
    })),
    bare: measured.bare,
    at: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  writeReport(`starts${quick ? '-quick' : ''}`, await measureStarts({ quick }));
}

if (require.main === module) runBench(main);
