/**
 * `npm run bench:regions [-- --seed S] [--draws N] [--quick]`: two regions, eu and us, on this machine (each a
 * Temporal cluster on its own PostgreSQL, mutual TLS, replicating; one `ados worker --namespaces
 * region` process per region), measured as docs/DEPLOYMENT.md "Regions" describes them:
 *
 * 1. saturation: the same burst of runs in a namespace pinned to eu (no copy) and in one replicated
 *    to us; throughput, and CPU per run of eu's cluster, us's cluster and eu's worker;
 * 2. replication lag at a steady half of the replicated saturation rate: from a run's close in eu
 *    to its close being readable in us's own copy (polled every 20 ms);
 * 3. a planned failover (eu to us) under load: RTO, runs lost, spend against the executions;
 * 4. an unplanned one (us, now active, SIGKILLed with its database and worker; forced to eu).
 *
 * Run shapes and node costs are drawn from the seed (printed); nodes are `test.logged`, so every
 * execution is counted outside Temporal.
 *
 * Each draw brings its own two regions up and down; `--draws N` (5 unless given) draws, their
 * seeds drawn from the first (`--seed S`, or drawn) and printed. Each draw's figures are written to
 * bench/results/regions[-quick]-draws/seed-S.json; regions[-quick].json holds each figure's median
 * and worst over the draws, with the worst draw's seed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOutcome } from '../api/client';
import { failoverRegion } from '../infra/cluster/regions';
import { postmasterPid } from '../infra/cluster/postgres';
import { executionsAgain, readExecutions } from '../testkit/execution-log';
import { firstWrites, regionsHarness } from '../testkit/regions';
import { cpuMs } from './proc';
import { runBench, writeReport } from './harness';
import { median, percentile } from './stats';
import fc from 'fast-check';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string) => (args.indexOf(name) >= 0 ? Number(args[args.indexOf(name) + 1]) : undefined);
const draws = flag('--draws') ?? 5;
const firstSeed = flag('--seed') ?? Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(draws) || draws < 1) throw new Error(`--draws: a whole number ≥ 1, not ${draws}`);
if (!Number.isSafeInteger(firstSeed)) throw new Error(`--seed: a whole number, not ${firstSeed}`);
/** The draws' seeds: the first given (or drawn), each next one drawn from it. */
const seeds = fc.sample(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { seed: firstSeed, numRuns: draws - 1 });
seeds.unshift(firstSeed);
const name = quick ? 'regions-quick' : 'regions';

/** Each figure of a draw, and which way is worse: its worst draw is its highest, or its lowest (`low`). */
const FIGURES: Array<{ path: string; worse: 'high' | 'low' }> = [
  { path: 'saturation.replicatedOverPinnedThroughput', worse: 'low' },
  { path: 'saturation.standbyOverActiveCpuPerRun', worse: 'high' },
  { path: 'replicationLag.p50Ms', worse: 'high' },
  { path: 'replicationLag.p99Ms', worse: 'high' },
  { path: 'plannedFailover.rtoMs', worse: 'high' },
  { path: 'plannedFailover.runsNotCompleted', worse: 'high' },
  { path: 'plannedFailover.nodesRunAgain', worse: 'high' },
  { path: 'plannedFailover.spendErrorMicros', worse: 'high' },
  { path: 'unplannedFailover.forceMs', worse: 'high' },
  { path: 'unplannedFailover.rtoMs', worse: 'high' },
  { path: 'unplannedFailover.runsUnknownToSurvivor', worse: 'high' },
  { path: 'unplannedFailover.nodesRunAgain', worse: 'high' },
  { path: 'unplannedFailover.chargesMissingMicros', worse: 'high' },
  { path: 'unplannedFailover.chargedTwiceMicros', worse: 'high' },
];

/** CPU ms so far of a region's Temporal Server and its PostgreSQL (the postmaster, its children, and those that ended). */
function clusterCpuMs(dir: string, serverPid: number): number {
  const postmaster = postmasterPid(join(dir, 'postgres'));
  let total = cpuMs(serverPid) + cpuMs(postmaster);
  const stat = readFileSync(`/proc/${postmaster}/stat`, 'utf8').split(') ')[1]!.split(' ');
  total += ((Number(stat[13]) + Number(stat[14])) * 1000) / 100;
  for (const task of readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/))
    if (task)
      try {
        total += cpuMs(Number(task));
      } catch {
        // A backend that ended meanwhile (its time is in the postmaster's children's time).
      }
  return total;
}

async function main(): Promise<void> {
  process.stderr.write(`bench:regions ${draws} draws, seeds ${seeds.join(', ')}${quick ? ' (quick)' : ''}\n`);
  const reports: Array<Record<string, unknown>> = [];
  for (const seed of seeds) {
    reports.push(await draw(seed));
    writeReport(name, summary(reports));
  }
}

/** Each figure's median and worst over the draws so far, with the worst draw's seed. */
function summary(reports: Array<Record<string, unknown>>) {
  const at = (report: Record<string, unknown>, path: string) =>
    path.split('.').reduce<unknown>((x, key) => (x as Record<string, unknown> | undefined)?.[key], report);
  const figures: Record<string, { median: number; worst: number; worstSeed: number }> = {};
  for (const { path, worse } of FIGURES) {
    const values = reports
      .map((r) => ({ seed: r.seed as number, value: at(r, path) }))
      .filter((x): x is { seed: number; value: number } => typeof x.value === 'number');
    if (values.length === 0) continue;
    const sign = worse === 'high' ? 1 : -1;
    const worst = values.reduce((w, x) => (sign * Math.abs(x.value) > sign * Math.abs(w.value) ? x : w));
    figures[path] = { median: median(values.map((x) => x.value)), worst: worst.value, worstSeed: worst.seed };
  }
  return {
    quick,
    machine: '2 cores; eu and us on the same machine, each Temporal Server 16 shards on PostgreSQL, mutual TLS',
    seeds: reports.map((r) => r.seed),
    draws: reports.map((r) => `${name}-draws/seed-${r.seed}.json`),
    figures,
  };
}

/** One draw: two regions of its own, brought up and taken down, measured with workloads drawn from `seed`. */
async function draw(seed: number): Promise<Record<string, unknown>> {
  process.stderr.write(`bench:regions seed ${seed}${quick ? ' (quick)' : ''}\n`);
  const regions = regionsHarness();
  await regions.up();
  const report: Record<string, unknown> = { seed, quick };
  const save = () => writeReport(`${name}-draws/seed-${seed}`, report);
  try {
    const [euWorker] = await Promise.all([regions.workerOnce('eu'), regions.workerOnce('us')]);
    const eu = regions.state('eu');
    const us = regions.state('us');
    const euCpu = () => clusterCpuMs(join(regions.dir, 'eu'), eu.pids.server!);
    const usCpu = () => clusterCpuMs(join(regions.dir, 'us'), us.pids.server!);

    // 1. Saturation: the same drawn burst, pinned to eu, then replicated to us.
    const burst = quick ? 60 : 300;
    const saturation: Record<string, unknown> = {};
    for (const namespace of ['ados-eu', 'ados-eu-us']) {
      const client = await regions.clientOf('eu', namespace);
      const tenants = ['s0', 's1', 's2', 's3'];
      const before = { eu: euCpu(), us: usCpu(), worker: cpuMs(euWorker.pid!) };
      const began = Date.now();
      const started = await regions.startLoad(client, tenants, `sat-${namespace}`, { runs: burst, nodeMs: 0, seed });
      const results = await Promise.all(started.map((h) => runOutcome(h)));
      const seconds = (Date.now() - began) / 1000;
      const perRun = (now: number, then: number) => Math.round((now - then) / burst);
      saturation[namespace] = {
        runs: burst,
        completed: results.filter((r) => r.status === 'COMPLETED').length,
        seconds,
        runsPerSecond: Number((burst / seconds).toFixed(2)),
        cpuMsPerRun: {
          euCluster: perRun(euCpu(), before.eu),
          usCluster: perRun(usCpu(), before.us),
          euWorker: perRun(cpuMs(euWorker.pid!), before.worker),
        },
      };
      process.stderr.write(`saturation ${namespace}: ${JSON.stringify(saturation[namespace])}\n`);
    }
    const replicated = saturation['ados-eu-us'] as { runsPerSecond: number; cpuMsPerRun: Record<string, number> };
    const pinned = saturation['ados-eu'] as { runsPerSecond: number; cpuMsPerRun: Record<string, number> };
    report.saturation = {
      ...saturation,
      replicatedOverPinnedThroughput: Number((replicated.runsPerSecond / pinned.runsPerSecond).toFixed(2)),
      standbyOverActiveCpuPerRun: Number(
        (
          (replicated.cpuMsPerRun.usCluster! - pinned.cpuMsPerRun.usCluster!) /
          replicated.cpuMsPerRun.euCluster!
        ).toFixed(2),
      ),
    };
    save();

    // 2. Replication lag at half the replicated saturation rate.
    const rate = replicated.runsPerSecond / 2;
    const lagSeconds = quick ? 20 : 60;
    const euReplicated = await regions.clientOf('eu', 'ados-eu-us');
    const usReplicated = await regions.clientOf('us', 'ados-eu-us');
    const lags: number[] = [];
    const lagRuns: Array<Promise<void>> = [];
    const lagStart = Date.now();
    for (let i = 0; Date.now() - lagStart < lagSeconds * 1000; i++) {
      const due = lagStart + (i * 1000) / rate;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      lagRuns.push(
        (async () => {
          const [handle] = await regions.startLoad(euReplicated, ['lag'], `lag-${i}`, {
            runs: 1,
            nodeMs: 0,
            seed: seed + i,
          });
          await runOutcome(handle!);
          const closed = (await handle!.describe()).closeTime!.getTime();
          for (;;) {
            const copy = await regions.localCopy(usReplicated, handle!.workflowId);
            if (copy?.workflowExecutionInfo?.closeTime) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          lags.push(Date.now() - closed);
        })(),
      );
    }
    await Promise.all(lagRuns);
    report.replicationLag = {
      ratePerSecond: Number(rate.toFixed(2)),
      runs: lags.length,
      p50Ms: percentile(lags, 50),
      p99Ms: percentile(lags, 99),
      maxMs: Math.max(...lags),
    };
    process.stderr.write(`lag: ${JSON.stringify(report.replicationLag)}\n`);
    save();

    // 3. Planned failover under load.
    const load = quick ? 60 : 150;
    const nodeMs = 8000;
    const planTenants = ['p0', 'p1', 'p2', 'p3'];
    const planned = await regions.startLoad(euReplicated, planTenants, 'plan', { runs: load, nodeMs, seed });
    const runningAtOrder = await regions.runningAtLeast(euReplicated, Math.floor(load * 0.75));
    const ordered = Date.now();
    const moved = await failoverRegion({ dir: regions.dir, from: 'eu', to: 'us', log: () => undefined });
    const switched = Date.now();
    const plannedIds = planned.map((h) => h.workflowId);
    const plannedResults = await regions.outcomes(usReplicated, plannedIds, 300_000);
    const plannedRto = (await firstWrites(usReplicated, plannedIds, { after: ordered, by: us })).completion - ordered;
    const plannedSpend = await regions.spendAgainstExecutions(usReplicated, planTenants);
    const logged = () => readExecutions(regions.executionLog());
    report.plannedFailover = {
      runs: load,
      runningAtOrder,
      commandMs: switched - ordered,
      steps: moved.moved,
      rtoMs: plannedRto,
      runsNotCompleted: plannedResults.filter((r) => r.status !== 'COMPLETED').length,
      nodesRunAgain: executionsAgain(logged().filter((e) => planTenants.includes(e.tenantId))),
      executionsMicros: plannedSpend.reduce((sum, t) => sum + t.ran, 0),
      spendErrorMicros: plannedSpend.reduce((sum, t) => sum + (t.spent - t.ran), 0),
    };
    process.stderr.write(`planned: ${JSON.stringify(report.plannedFailover)}\n`);
    save();

    // 4. Unplanned: us (now active) is lost with its database and worker; forced back to eu.
    const lostTenants = ['u0', 'u1', 'u2', 'u3'];
    const lostLoad = await regions.startLoad(usReplicated, lostTenants, 'lost', { runs: load, nodeMs, seed: seed + 1 });
    const runningAtLoss = await regions.runningAtLeast(usReplicated, Math.floor(load * 0.75));
    const postmaster = postmasterPid(join(regions.dir, 'us', 'postgres'));
    const killed = Date.now();
    for (const pid of [us.pids.server!, postmaster]) process.kill(pid, 'SIGKILL');
    for (const child of regions.processesIn.get('us') ?? []) child.kill('SIGKILL');
    await failoverRegion({ dir: regions.dir, from: 'us', to: 'eu', force: true, log: () => undefined });
    const forced = Date.now();
    const known: string[] = [];
    const unknown: string[] = [];
    for (const h of lostLoad)
      ((await regions.localCopy(euReplicated, h.workflowId)) ? known : unknown).push(h.workflowId);
    const lostResults = await regions.outcomes(euReplicated, known, 300_000);
    const unplannedRto = (await firstWrites(euReplicated, known, { after: forced, by: eu })).completion - forced;
    const lostSpend = await regions.spendAgainstExecutions(euReplicated, lostTenants);
    report.unplannedFailover = {
      runs: load,
      runningAtLoss,
      forceMs: forced - killed,
      rtoMs: unplannedRto,
      runsUnknownToSurvivor: unknown.length,
      runsNotCompleted: lostResults.filter((r) => r.status !== 'COMPLETED').length,
      nodesRunAgain: executionsAgain(logged().filter((e) => lostTenants.includes(e.tenantId))),
      executionsMicros: lostSpend.reduce((sum, t) => sum + t.ran, 0),
      chargesMissingMicros: lostSpend.reduce((sum, t) => sum + Math.max(0, t.ran - t.spent), 0),
      chargedTwiceMicros: lostSpend.reduce((sum, t) => sum + Math.max(0, t.spent - t.ran), 0),
    };
    process.stderr.write(`unplanned: ${JSON.stringify(report.unplannedFailover)}\n`);
    save();
  } finally {
    await regions.down();
  }
  return report;
}

runBench(main);
