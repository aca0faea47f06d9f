/**
 * Node workers for a bursty load: idle, a burst of runs, idle. Three ways to serve it, each on the
 * same dev server with the workflows in this process and the nodes in `ados worker --role nodes`
 * processes started as a user would: one fixed process, N fixed processes, the supervisor
 * (`--autoscale 1..N`) on the queues alone, and the supervisor also following the admitted runs'
 * remaining work (`--control-metrics`, the /metrics of the control worker in this process). Reported per way: run latency p50/p99 over the burst, node throughput,
 * peak resident memory of the node processes together, and process-seconds (node processes alive,
 * integrated over the whole idle–burst–idle window).
 * Goal: autoscale within 10% of fixed-N's p99, using at most 60% of its process-seconds.
 *
 * Usage: node --import tsx bench/autoscale.ts [--quick] (writes bench/results/autoscale.json)
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun } from '../api/client';
import { createMetrics } from '../infra/metrics/registry';
import { freePort } from '../infra/ports';
import { serveWorkerMetrics } from '../infra/metrics/worker-metrics';
import type { QueueLoad } from '../workers/autoscale/policy';
import { spawnAdosWorker, spawnAutoscaler, stopChild } from '../testkit/processes';
import { runBench, withBenchEnv, writeReport } from './harness';
import { percentile as pct } from './stats';

const TENANT = 'bursty';
const SLOTS = 10;
const MAX = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process in MiB, or 0 once it is gone. */
function rssMb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return line ? Number(line[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The node-worker processes of a way of serving: fixed ones are ours, the supervisor's are its children. */
function nodeProcessPids(fixed: ChildProcess[], supervisor: ChildProcess | undefined): number[] {
  if (!supervisor) return fixed.filter((c) => c.exitCode === null).map((c) => c.pid!);
  try {
    return execFileSync('pgrep', ['-P', String(supervisor.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The queue with the most running and waiting nodes in a decision's inputs. */
function busiest(queues: Record<string, QueueLoad>) {
  return Object.entries(queues).sort(([, a], [, b]) => b.running + b.backlog - (a.running + a.backlog))[0]?.[1];
}

interface Way {
  label: string;
  /** For run ids. */
  id: string;
  fixed: number;
  autoscale?: string;
  /** The control worker's /metrics URL the supervisor follows (`--control-metrics`). */
  controlMetrics?: string;
}

async function serve(client: Client, address: string, way: Way, o: { runs: number; nodeMs: number; idleMs: number }) {
  const env = { ...process.env, TEMPORAL_ADDRESS: address };
  const fixed = Array.from({ length: way.fixed }, () =>
    spawnAdosWorker(env, ['--role', 'nodes', '--concurrency', String(SLOTS)]),
  );
  // Its decisions are read from its log (JSON lines on stderr, its processes' too).
  const autoscaler = way.autoscale
    ? spawnAutoscaler(env, [
        way.autoscale,
        '--concurrency',
        String(SLOTS),
        '--scale-down-after',
        '10',
        ...(way.controlMetrics ? ['--control-metrics', way.controlMetrics] : []),
      ])
    : undefined;
  const supervisor = autoscaler?.child;
  try {
    // Ready: a one-node run through whatever serves.
    const warm = await startRun(client, {
      tenantId: TENANT,
      runId: `${way.id}-warm`,
      dag: { nodes: [{ id: 'n', kind: 'util.sleep', params: { ms: 1 } }] },
    });
    await runOutcome(warm);
    const began = Date.now();
    let processSeconds = 0;
    let peakRss = 0;
    let peakProcesses = 0;
    let last = began;
    let burstAt = Number.POSITIVE_INFINITY;
    // When, into the burst, a supervisor had started its second process, and its last (MAX).
    const grew: { secondMs?: number; maxMs?: number } = {};
    const sampler = setInterval(() => {
      const now = Date.now();
      const pids = nodeProcessPids(fixed, supervisor);
      if (supervisor && now >= burstAt) {
        if (pids.length >= 2) grew.secondMs ??= now - burstAt;
        if (pids.length >= MAX) grew.maxMs ??= now - burstAt;
      }
      processSeconds += (pids.length * (now - last)) / 1000;
      last = now;
      peakProcesses = Math.max(peakProcesses, pids.length);
      peakRss = Math.max(
        peakRss,
        pids.reduce((sum, pid) => sum + rssMb(pid), 0),
      );
    }, 250);
    await sleep(o.idleMs);
    burstAt = Date.now();
    const latencies: number[] = [];
    let completed = 0;
    await Promise.all(
      Array.from({ length: o.runs }, async (_, i) => {
        const t0 = Date.now();
        const handle = await startRun(client, {
          tenantId: TENANT,
          runId: `${way.id}-${i}`,
          dag: { nodes: [{ id: 'n', kind: 'util.sleep', params: { ms: o.nodeMs, costUsd: 0.0001 } }] },
        });
        if ((await runOutcome(handle)).status === 'COMPLETED') completed++;
        latencies.push(Date.now() - t0);
      }),
    );
    const burstMs = Date.now() - burstAt;
    await sleep(o.idleMs);
    clearInterval(sampler);
    return {
      way: way.label,
      runs: o.runs,
      completed,
      burstMs,
      runLatencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
      nodesPerSecond: Math.round((o.runs / (burstMs / 1000)) * 10) / 10,
      peakProcesses,
      ...(supervisor ? { grewIntoBurstMs: grew } : {}),
      // Each change of target, ms into the burst, with the busiest queue's inputs.
      ...(supervisor
        ? {
            decisions: autoscaler!.decisions.map((d) => ({
              intoBurstMs: Date.parse(d.at) - burstAt,
              from: d.from,
              to: d.to,
              reason: d.reason,
              queue: busiest(d.queues),
              readMs: d.readMs,
            })),
          }
        : {}),
      peakRssMb: Math.round(peakRss),
      processSeconds: Math.round(processSeconds),
      windowSeconds: Math.round((Date.now() - began) / 1000),
    };
  } finally {
    await Promise.all([...fixed.map((c) => stopChild(c)), stopChild(supervisor)]);
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const o = quick ? { runs: 200, nodeMs: 2000, idleMs: 15_000 } : { runs: 500, nodeMs: 2000, idleMs: 30_000 };
  const metrics = createMetrics();
  const metricsPort = await freePort();
  const controlMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  const ways: Way[] = [
    { label: 'fixed-1', id: 'fixed-1', fixed: 1 },
    { label: `fixed-${MAX}`, id: `fixed-${MAX}`, fixed: MAX },
    { label: `autoscale-1..${MAX}`, id: 'autoscale', fixed: 0, autoscale: `1..${MAX}` },
    {
      label: `autoscale-1..${MAX}+work`,
      id: 'autoscale-work',
      fixed: 0,
      autoscale: `1..${MAX}`,
      controlMetrics,
    },
  ];
  const served = await serveWorkerMetrics(metrics, metricsPort);
  const rows = await withBenchEnv(
    { workers: { partitions: [], workflowConcurrency: 200, metrics } },
    async (client, server) => {
      await configureTenant(client, TENANT, {
        budgetUsd: 1e6,
        maxConcurrentRuns: 2000,
        backpressureThreshold: 1,
        learning: { intensity: 'CONSERVATIVE' },
      });
      const measured = [];
      for (const way of ways) {
        const row = await serve(client, server.address, way, o);
        process.stderr.write(`  ${JSON.stringify(row)}\n`);
        measured.push(row);
      }
      return measured;
    },
  );
  served.close();
  const fixedN = rows[1]!;
  const against = (auto: (typeof rows)[number]) => ({
    p99OverFixedN: Math.round((auto.runLatencyMs.p99 / fixedN.runLatencyMs.p99) * 100) / 100,
    processSecondsShare: Math.round((auto.processSeconds / fixedN.processSeconds) * 100) / 100,
  });
  writeReport(`autoscale${quick ? '-quick' : ''}`, {
    quick,
    workload: { ...o, slotsPerProcess: SLOTS, max: MAX, scaleDownAfterSeconds: 10 },
    rows,
    queuesOnly: against(rows[2]!),
    withAdmittedWork: against(rows[3]!),
    at: new Date().toISOString(),
  });
}

if (require.main === module) runBench(main);
