import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { eventually, freePort, startTestEnv, type TestEnv } from '../helpers/temporal';
import { stopChild } from '../helpers/processes';

const ADOS = join(__dirname, '..', '..', 'bin', 'ados.js');
let env: TestEnv;
let worker: ChildProcess | undefined;
let port = 0;

before(async () => {
  env = await startTestEnv();
  port = await freePort();
  worker = spawn(process.execPath, [ADOS, 'worker', '--metrics-port', String(port)], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
});

after(async () => {
  await stopChild(worker);
  await env?.teardown();
});

describe('worker metrics', () => {
  test('`ados worker --metrics-port` serves runs by status, node durations, decisions, admission waits and spend beside Temporal runtime metrics', async () => {
    await configureTenant(env.client, 'metered', { budgetUsd: 10 });
    const handles = await Promise.all(
      [1, 2, 3].map((i) =>
        startRun(env.client, {
          tenantId: 'metered',
          runId: `m-${i}`,
          dag: {
            nodes: [
              { id: 'a', kind: 'util.sleep', params: { ms: 20, costUsd: 0.25 } },
              { id: 'b', kind: 'util.sleep', deps: ['a'], params: { ms: 20, costUsd: 0.5 } },
            ],
          },
        }),
      ),
    );
    for (const h of handles) assert.equal((await runOutcome(h)).status, 'COMPLETED');
    const text = await eventually(
      async () => {
        const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        return /ados_runs_total\{tenant="metered",status="COMPLETED"\} 3/.test(body) ? body : undefined;
      },
      { what: 'three completed runs in the metrics' },
    );
    assert.match(text, /ados_node_duration_seconds_count\{kind="util.sleep",outcome="completed"\} 6/);
    assert.match(text, /ados_cost_decisions_total\{action="CONTINUE"\} 6/);
    assert.match(text, /ados_admission_wait_seconds_count\{outcome="ADMITTED"\} 3/);
    assert.match(text, /ados_spend_usd_total\{tenant="metered",category="compute"\} 2\.25/);
    assert.match(text, /^temporal_\w+/m, "Temporal's runtime metrics are in the same scrape");
  });
});
