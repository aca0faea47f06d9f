import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { nodeTaskQueue } from '../../workflows/domain/run/routing';
import { testApi } from '../../testkit/api';
import { eventually, freePort, startTestEnv, type TestEnv } from '../../testkit/temporal';
import { stopChild } from '../../testkit/processes';

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

  test("the autoscaling signal on /metrics: each node queue's backlog, and the admitted runs' remaining nodes, node-seconds and scheduled nodes while they run, zero once they end", async () => {
    await configureTenant(env.client, 'signal', { budgetUsd: 10 });
    const queue = nodeTaskQueue({ tenantId: 'signal' });
    const gauge = (body: string, name: string) => {
      const match = new RegExp(`^${name}\\{queue="${queue}"\\} (\\S+)$`, 'm').exec(body);
      return match ? Number(match[1]) : undefined;
    };
    const seen: Array<{ nodes?: number; seconds?: number; scheduled?: number }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        seen.push({
          nodes: gauge(body, 'ados_admitted_nodes_remaining'),
          seconds: gauge(body, 'ados_admitted_node_seconds_remaining'),
          scheduled: gauge(body, 'ados_admitted_nodes_scheduled'),
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Four runs of two 1.5-s nodes, one after the other: 8 nodes ahead once admitted, 4 while the second ones run.
    const handles = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        startRun(env.client, {
          tenantId: 'signal',
          runId: `s-${i}`,
          dag: {
            nodes: [
              { id: 'a', kind: 'util.sleep', params: { ms: 1500 } },
              { id: 'b', kind: 'util.sleep', deps: ['a'], params: { ms: 1500 } },
            ],
          },
        }),
      ),
    );
    for (const h of handles) assert.equal((await runOutcome(h)).status, 'COMPLETED');
    const body = await eventually(
      async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        return gauge(text, 'ados_admitted_nodes_remaining') === 0 ? text : undefined;
      },
      { what: 'no admitted node left once the runs ended' },
    );
    sampling = false;
    await sampler;
    assert.equal(gauge(body, 'ados_admitted_node_seconds_remaining'), 0);
    assert.equal(gauge(body, 'ados_admitted_nodes_scheduled'), 0);
    // One node at a time per run: at most four scheduled, and four while all ran.
    const scheduled = seen.map((s) => s.scheduled ?? 0);
    assert.equal(Math.max(...scheduled), 4, `scheduled nodes seen: ${scheduled.join(',')}`);
    const counts = seen.map((s) => s.nodes ?? 0);
    assert.ok(Math.max(...counts) >= 4 && Math.max(...counts) <= 8, `remaining nodes seen: ${counts.join(',')}`);
    assert.ok(counts.includes(4), `four nodes left while the second ones ran: ${counts.join(',')}`);
    // Node-seconds: the nodes ahead at their kind's measured duration, which the first nodes (1.5 s) pulled up.
    const during = seen.filter((s) => (s.nodes ?? 0) > 0);
    assert.ok(during.every((s) => s.seconds! > 0));
    const lastDuring = during.at(-1)!;
    assert.ok(lastDuring.seconds! / lastDuring.nodes! > 0.1, JSON.stringify(lastDuring));
    // The backlog of every node queue, read from Temporal at the scrape.
    for (const k of [0, 1, 2, 3])
      assert.match(body, new RegExp(`^ados_node_backlog\\{queue="ados-nodes-${k}"\\} \\d+$`, 'm'));
    assert.match(body, /^ados_node_backlog_age_seconds\{queue="ados-nodes-0"\} /m);
  });

  test('every query of the Grafana dashboard (infra/grafana/ados.json) names a metric the worker or the API really exports', async () => {
    // Something for each metric to count: a run through the worker, API calls and a dashboard load.
    await configureTenant(env.client, 'grafana', { budgetUsd: 10 });
    await runOutcome(
      await startRun(env.client, {
        tenantId: 'grafana',
        runId: 'g-1',
        dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 5, costUsd: 0.01 } }] },
      }),
    );
    const app = await testApi(env.client, 'admin-token-for-grafana-0123');
    const dashboard = await app.inject({
      method: 'GET',
      url: '/v1/tenants/grafana/dashboard',
      headers: { authorization: 'Bearer admin-token-for-grafana-0123' },
    });
    assert.equal(dashboard.statusCode, 200);
    const api = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    await app.close();
    const worker = await eventually(async () => {
      const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      return /ados_runs_total\{tenant="grafana"/.test(body) ? body : undefined;
    });
    const exported = new Set(
      `${worker}\n${api}`
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]),
    );
    const grafana = JSON.parse(readFileSync(join(__dirname, '..', '..', 'infra', 'grafana', 'ados.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    // A query's metric names: what is left once label lists, selectors, ranges and numbers are cut
    // out, other than functions and aggregations (an identifier followed by a parenthesis).
    const namesIn = (expr: string) =>
      [
        ...expr
          .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
          .replace(/\{[^}]*\}|\[[^\]]*\]|"[^"]*"/g, ' ')
          .matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g),
      ].map((m) => m[1]!);
    const metrics = [...new Set(grafana.panels.flatMap((p) => p.targets.flatMap((t) => namesIn(t.expr))))];
    assert.ok(metrics.length >= 10, metrics.join(', '));
    const missing = metrics.filter((name) => !exported.has(name));
    assert.deepEqual(
      missing,
      [],
      `not exported: ${missing.join(', ')}; temporal_* exported: ${[...exported].filter((n) => n.startsWith('temporal_')).join(', ')}`,
    );
  });
});
