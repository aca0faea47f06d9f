import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readState } from '../../infra/cluster/layout';
import { postmasterPid } from '../../infra/cluster/postgres';
import { LOCAL_ONLY } from '../../infra/temporal-connection';
import { failoverRegion } from '../../infra/cluster/regions';
import { executionsAgain, readExecutions } from '../../testkit/execution-log';
import { firstWrites, useRegions } from '../../testkit/regions';

/**
 * Two fresh regions, eu and us: the region where eu+us is active is lost at once (its Temporal
 * server, its PostgreSQL and its ADOS processes SIGKILLed) under load, and the namespace is forced
 * to the other region.
 */
describe('regions: losing one', () => {
  const regions = useRegions();
  test('unplanned failover: the region where eu+us is active is SIGKILLed with its PostgreSQL and its ADOS processes under 200 runs; forced to the other, every run it knows ends, and every charge is accounted for', async () => {
    await Promise.all([regions.workerOnce('eu'), regions.workerOnce('us')]);
    const probe = await regions.clientOf('eu', 'ados-eu-us');
    const activeNow = (
      await probe.connection.withMetadata(LOCAL_ONLY, () =>
        probe.workflowService.describeNamespace({ namespace: 'ados-eu-us' }),
      )
    ).replicationConfig!.activeClusterName!;
    const lost = activeNow;
    const survivor = regions.REGIONS.find((r) => r !== lost)!;
    const lostClient = await regions.clientOf(lost, 'ados-eu-us');
    const survivorClient = await regions.clientOf(survivor, 'ados-eu-us');
    const tenants = ['u0', 'u1', 'u2', 'u3'];
    // Through three doors: the TypeScript client, a plain Temporal client (as the Temporal CLI) and the lost region's HTTP API.
    const started = await regions.startLoad(lostClient, tenants, 'u', {
      doors: { plain: true, http: await regions.apiIn(lost) },
    });
    const inFlight = await regions.runningAtLeast(lostClient, 150);

    // The region is lost: its server, its database and every ADOS process in it, at once.
    const postmaster = postmasterPid(join(regions.dir, lost, 'postgres'));
    const killed = Date.now();
    for (const pid of [readState(join(regions.dir, lost))!.pids.server!, postmaster]) process.kill(pid, 'SIGKILL');
    for (const child of regions.processesIn.get(lost) ?? []) child.kill('SIGKILL');
    const failover = await failoverRegion({
      dir: regions.dir,
      from: lost,
      to: survivor,
      force: true,
      log: () => undefined,
    });
    const forced = Date.now();
    assert.ok(
      failover.moved.some((m) => m.namespace === 'ados-eu-us'),
      JSON.stringify(failover),
    );
    assert.deepEqual(failover.stayed, [`ados-${lost}`], `the tenants pinned to ${lost} are lost with it, and named`);

    // Every run the survivor knows reaches a terminal state; the runs it never heard of are listed (the RPO).
    const known: string[] = [];
    const unknown: string[] = [];
    for (const run of started)
      ((await regions.localCopy(survivorClient, run.workflowId)) ? known : unknown).push(run.workflowId);
    const results = await regions.outcomes(survivorClient, known, 300_000);
    const byStatus: Record<string, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    assert.ok(
      results.every((r) => ['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'REJECTED'].includes(r.status)),
      JSON.stringify(byStatus),
    );

    // RTO: from the forced failover to the first node completion the survivor wrote after it.
    const firstInEu = (await firstWrites(survivorClient, known, { after: forced })).completion;

    // Money: no execution charged twice, and each tenant's spend against its executions; what is missing is listed.
    const logged = readExecutions(regions.executionLog()).filter((e) => tenants.includes(e.tenantId));
    const executions = logged.filter((e) => e.phase === 'end');
    const again = executionsAgain(logged);
    const spend = await regions.spendAgainstExecutions(survivorClient, tenants);
    const missingMicros = spend.reduce((sum, t) => sum + (t.ran - t.spent), 0);
    process.stdout.write(
      `# unplanned failover: ${inFlight} RUNNING when ${lost} was killed; forced in ${forced - killed} ms; RTO ${firstInEu - forced} ms (first node completion in ${survivor} after the failover); runs ${survivor} knows ${known.length}/200 ${JSON.stringify(byStatus)}, unknown (RPO) ${unknown.length}${unknown.length ? `: ${unknown.slice(0, 5).join(', ')}…` : ''}; ${executions.length} executions, ${again} of them a node run again; spend ${JSON.stringify(spend)}; charges missing ${missingMicros} µ$\n`,
    );
    assert.ok(again >= 1, 'a node ran again after the failover');
    for (const t of spend)
      assert.ok(t.spent <= t.ran, `${t.tenantId}: no execution charged twice (spent ${t.spent}, ran ${t.ran})`);
  });
});
