/**
 * What open dashboards cost the server: the API in its own process (`ados api`), a steady workload
 * of runs on one tenant, and 0 then 100 simulated pages polling that tenant's dashboard once a
 * second as the page does. Reported per window: the API process's CPU (from /proc), HTTP requests
 * per second, and the dashboard's loads from Temporal per second (`ados_dashboard_loads_total`:
 * each a status query of the tenant's entity; queries add no history events).
 *
 * Usage: node --import tsx bench/dashboard-load.ts [--quick] (writes bench/results/dashboard-load.json)
 */
import { configureTenant, runOutcome, startRun } from '../api/client';
import { spawnAdosApi } from '../testkit/processes';
import { runBench, withBenchEnv, writeReport } from './harness';
import { cpuMs } from './proc';

const ADMIN = 'admin-token-for-the-dashboard-load';
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seconds = quick ? 10 : 30;
  const report = await withBenchEnv({}, async (client, server) => {
    await configureTenant(client, 'watched', { budgetUsd: 100, maxConcurrentRuns: 20 });
    const { child: api, url } = await spawnAdosApi({
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      ADOS_ADMIN_TOKEN: ADMIN,
    });
    try {
      // A steady workload: 4 runs at a time, each a few cheap nodes.
      let stop = false;
      let runs = 0;
      const lanes = Array.from({ length: 4 }, async (_, lane) => {
        for (let i = 0; !stop; i++) {
          await runOutcome(
            await startRun(client, {
              tenantId: 'watched',
              runId: `w-${lane}-${i}`,
              tags: { lane: String(lane) },
              dag: {
                nodes: [
                  { id: 'a', kind: 'util.sleep', params: { ms: 100, costUsd: 0.001 } },
                  { id: 'b', kind: 'util.sleep', deps: ['a'], params: { ms: 100, costUsd: 0.002 } },
                ],
              },
            }),
          );
          runs++;
        }
      });
      const window = async (pages: number) => {
        let stopPages = false;
        let requests = 0;
        const clients = Array.from({ length: pages }, async (_, i) => {
          await new Promise((r) => setTimeout(r, (i * 1000) / Math.max(1, pages)));
          while (!stopPages) {
            const res = await fetch(`${url}/v1/tenants/watched/dashboard`, {
              headers: { authorization: `Bearer ${ADMIN}` },
            });
            await res.arrayBuffer();
            requests++;
            await new Promise((r) => setTimeout(r, 1000));
          }
        });
        const cpu0 = cpuMs(api.pid!);
        const loads0 = await counter(url, 'ados_dashboard_loads_total');
        const runs0 = runs;
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const cpu = cpuMs(api.pid!) - cpu0;
        const loads = (await counter(url, 'ados_dashboard_loads_total')) - loads0;
        stopPages = true;
        await Promise.all(clients);
        return {
          pages,
          seconds,
          apiCpuMsPerSecond: Math.round(cpu / seconds),
          apiCpuShareOfOneCore: Math.round((cpu / (seconds * 1000)) * 1000) / 1000,
          httpRequestsPerSecond: Math.round((requests / seconds) * 10) / 10,
          statusQueriesPerSecond: Math.round((loads / seconds) * 100) / 100,
          runsPerSecond: Math.round(((runs - runs0) / seconds) * 10) / 10,
        };
      };
      const idle = await window(0);
      const loaded = await window(100);
      stop = true;
      await Promise.all(lanes);
      return { idle, loaded, at: new Date().toISOString() };
    } finally {
      api.kill('SIGTERM');
    }
  });
  writeReport(`dashboard-load${quick ? '-quick' : ''}`, report);
}

if (require.main === module) runBench(main);
