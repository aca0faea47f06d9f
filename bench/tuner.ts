/**
 * Node slots, fixed against Temporal's resource-based tuner, on one node-worker process
 * (`ados worker --role nodes`, started as a user would) with the workflows in the bench's process.
 * Two workloads on one tenant, one after the other, for each setting:
 * - I/O-bound: runs of parallel `util.sleep` nodes (1 s each, an LLM call's wait), many more at
 *   once than today's default slots (20 per queue): node throughput;
 * - CPU-bound: runs of `util.spin` nodes (50 ms of CPU each): node throughput and run latency p99.
 * Goal: the tuner reaches ≥ 3× the I/O-bound throughput of the default slots without raising the
 * CPU-bound p99.
 *
 * Usage: node --import tsx bench/tuner.ts [--quick] (writes bench/results/tuner.json)
 */
import type { ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun } from '../api/client';
import { spawnAdosWorker, stopChild } from '../testkit/processes';
import { RESOURCE_SLOT_DEFAULTS } from '../workers/ados-worker';
import { runBench, withBenchEnv, writeReport } from './harness';
import { percentile as pct } from './stats';

const TENANT = 'tuner';

interface Workload {
  name: string;
  runs: number;
  nodesPerRun: number;
  node: { kind: string; params: Record<string, unknown> };
}

interface WorkloadResult {
  workload: string;
  runs: number;
  nodes: number;
  completed: number;
  wallMs: number;
  nodesPerSecond: number;
  runLatencyMs: { p50: number; p99: number };
}

/** Starts every run at once (each a fan-out of parallel nodes) and waits for them all. */
async function runWorkload(client: Client, w: Workload, tag: string): Promise<WorkloadResult> {
  const latencies: number[] = [];
  let completed = 0;
  const began = Date.now();
  await Promise.all(
    Array.from({ length: w.runs }, async (_, i) => {
      const t0 = Date.now();
      const handle = await startRun(client, {
        tenantId: TENANT,
        runId: `${tag}-${w.name}-${i}`,
        maxParallelism: w.nodesPerRun,
        dag: { nodes: Array.from({ length: w.nodesPerRun }, (_, n) => ({ id: `n${n}`, ...w.node })) },
      });
      const outcome = await runOutcome(handle);
      if (outcome.status === 'COMPLETED') completed++;
      latencies.push(Date.now() - t0);
    }),
  );
  const wallMs = Date.now() - began;
  const nodes = w.runs * w.nodesPerRun;
  return {
    workload: w.name,
    runs: w.runs,
    nodes,
    completed,
    wallMs,
    nodesPerSecond: Math.round((nodes / (wallMs / 1000)) * 10) / 10,
    runLatencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const io: Workload = {
    name: 'io-bound',
    runs: quick ? 10 : 20,
    nodesPerRun: 20,
    node: { kind: 'util.sleep', params: { ms: 1000, costUsd: 0.0001 } },
  };
  const cpu: Workload = {
    name: 'cpu-bound',
    runs: quick ? 10 : 20,
    nodesPerRun: 4,
    node: { kind: 'util.spin', params: { ms: 50, costUsd: 0.0001 } },
  };
  const settings: Array<{ label: string; args: string[] }> = [
    { label: 'fixed slots (default: --concurrency 20)', args: [] },
    { label: `resource-based tuner (--slots resource, defaults)`, args: ['--slots', 'resource'] },
  ];
  // The workflows run in this process; the nodes in an `ados worker --role nodes` process per setting.
  const rows = await withBenchEnv({ workers: { partitions: [], workflowConcurrency: 100 } }, async (client, server) => {
    await configureTenant(client, TENANT, {
      budgetUsd: 1e6,
      maxConcurrentRuns: 1000,
      backpressureThreshold: 1,
      learning: { intensity: 'CONSERVATIVE' },
    });
    const measured = [];
    for (const [i, setting] of settings.entries()) {
      let worker: ChildProcess | undefined;
      try {
        worker = spawnAdosWorker({ ...process.env, TEMPORAL_ADDRESS: server.address }, [
          '--role',
          'nodes',
          ...setting.args,
        ]);
        // Warm: one run through the new process before measuring.
        await runWorkload(client, { ...cpu, name: 'warm-up', runs: 1, nodesPerRun: 1 }, `s${i}`);
        const ioResult = await runWorkload(client, io, `s${i}`);
        process.stderr.write(`  ${setting.label}: I/O-bound ${ioResult.nodesPerSecond} nodes/s\n`);
        const cpuResult = await runWorkload(client, cpu, `s${i}`);
        process.stderr.write(
          `  ${setting.label}: CPU-bound ${cpuResult.nodesPerSecond} nodes/s, run p99 ${cpuResult.runLatencyMs.p99} ms\n`,
        );
        measured.push({ setting: setting.label, args: setting.args, io: ioResult, cpu: cpuResult });
      } finally {
        await stopChild(worker);
      }
    }
    return measured;
  });
  const [fixed, tuned] = rows;
  writeReport(`tuner${quick ? '-quick' : ''}`, {
    quick,
    resourceDefaults: RESOURCE_SLOT_DEFAULTS,
    rows,
    ioThroughputRatio: Math.round((tuned!.io.nodesPerSecond / fixed!.io.nodesPerSecond) * 100) / 100,
    cpuP99Ratio: Math.round((tuned!.cpu.runLatencyMs.p99 / fixed!.cpu.runLatencyMs.p99) * 100) / 100,
    at: new Date().toISOString(),
  });
}

if (require.main === module) runBench(main);
