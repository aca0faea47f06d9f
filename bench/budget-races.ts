/**
 * Budget races: many concurrent runs against a small budget, with exact and with 50%-low
 * estimates. Overspend must be 0 with exact estimates; with inexact ones it is bounded by the
 * estimation error of the nodes that ran. Usage: node --import tsx bench/budget-races.ts
 */
import { Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../api/client';
import { runBench, withBenchEnv, writeReport } from './harness';
import { predictionWorkload } from '../testkit/prediction-workload';
import { toMicros, usd } from '../workflows/domain/pricing/catalog';

/** The tenant's status once its runs have all been released (up to 10 s after they ended). */
async function settledStatus(client: Client, tenantId: string) {
  let status = await tenantStatus(client, tenantId);
  for (let i = 0; i < 100 && status.runsInFlight.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await tenantStatus(client, tenantId);
  }
  return status;
}

async function race(
  client: Client,
  tenantId: string,
  runs: number,
  budgetUsd: number,
  costUsd: number,
  estimateUsd: number,
) {
  await configureTenant(client, tenantId, {
    budgetUsd,
    maxConcurrentRuns: runs,
    backpressureThreshold: 1,
    learning: { intensity: 'CONSERVATIVE' },
  });
  const work = { id: 'work', kind: 'util.sleep', params: { ms: 200, costUsd }, estimatedCostUsd: estimateUsd };
  const inputs = Array.from({ length: runs }, (_, i) => ({ tenantId, runId: `race-${i}`, dag: { nodes: [work] } }));
  const handles = await Promise.all(inputs.map((input) => startRun(client, input)));
  const results = await Promise.all(handles.map(runOutcome));
  const status = await settledStatus(client, tenantId);
  const ran = results.filter((r) => r.nodes.work?.status === 'COMPLETED').length;
  const overspend = Math.max(0, toMicros(status.spentUsd) - toMicros(budgetUsd));
  return {
    runs,
    budgetUsd,
    nodeCostUsd: costUsd,
    estimateUsd,
    completed: ran,
    spentUsd: status.spentUsd,
    overspendUsd: usd(overspend),
    /** What the lease design promises: no more than the estimation error of the nodes that ran. */
    boundUsd: usd(ran * Math.max(0, toMicros(costUsd) - toMicros(estimateUsd))),
    spendEqualsRunCosts: toMicros(status.spentUsd) === results.reduce((s, r) => s + toMicros(r.costUsd), 0),
  };
}

/**
 * A race of RAG runs whose LLM costs are predicted by the tenant's token model: the tenant is
 * warmed with a mixed workload, then given room for about half of `runs` concurrent runs of it.
 * The bound is the estimation error of the nodes that ran: what each cost beyond the estimate its
 * CostAgent decision was made with.
 */
async function predictedRace(client: Client, tenantId: string, runs: number) {
  await configureTenant(client, tenantId, {
    budgetUsd: 100,
    maxConcurrentRuns: runs,
    backpressureThreshold: 1,
    learning: { intensity: 'CONSERVATIVE' },
  });
  const { warmup, quoted } = predictionWorkload(tenantId, { warmup: 30, quoted: runs, seed: 11 });
  let warmed = 0;
  for (let i = 0; i < warmup.length; i += 10)
    for (const r of await Promise.all(
      warmup.slice(i, i + 10).map(async (spec) => runOutcome(await startRun(client, spec))),
    ))
      warmed += toMicros(r.costUsd);
  const spent = toMicros((await tenantStatus(client, tenantId)).spentUsd);
  const budgetMicros = spent + Math.round((warmed / warmup.length) * (runs / 2));
  await configureTenant(client, tenantId, { budgetUsd: usd(budgetMicros) });
  const handles = await Promise.all(quoted.map((spec) => startRun(client, spec)));
  const results = await Promise.all(handles.map(runOutcome));
  const status = await settledStatus(client, tenantId);
  let boundMicros = 0;
  for (const r of results)
    for (const d of r.decisions) {
      const node = r.nodes[d.nodeId];
      if (d.action === 'CONTINUE' && node?.status === 'COMPLETED')
        boundMicros += Math.max(0, toMicros(node.costUsd) - toMicros(d.nodeEstimateUsd));
    }
  return {
    runs,
    budgetUsd: usd(budgetMicros - spent),
    completed: results.filter((r) => r.status === 'COMPLETED').length,
    spentUsd: usd(toMicros(status.spentUsd) - spent),
    overspendUsd: usd(Math.max(0, toMicros(status.spentUsd) - budgetMicros)),
    boundUsd: usd(boundMicros),
    spendEqualsRunCosts: toMicros(status.spentUsd) - spent === results.reduce((s, r) => s + toMicros(r.costUsd), 0),
  };
}

export async function measureBudgetRaces(client: Client, { quick }: { quick: boolean }) {
  const runs = quick ? 30 : 100;
  return {
    exact: await race(client, 'race-exact', runs, 1, 0.1, 0.1),
    inexact: await race(client, 'race-inexact', runs, 1, 0.15, 0.1),
    predicted: await predictedRace(client, 'race-predicted', quick ? 20 : 40),
  };
}

async function main(): Promise<void> {
  const noop = () => undefined;
  Runtime.install({ logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } });
  const quick = process.argv.includes('--quick');
  await withBenchEnv({}, async (client) =>
    writeReport('budget-races', { ...(await measureBudgetRaces(client, { quick })), at: new Date().toISOString() }),
  );
}

if (require.main === module) runBench(main);
