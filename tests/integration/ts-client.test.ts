import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { AdosClient, AdosError } from 'ados-client';
import { REPO } from '../../testkit/docs';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const exec = promisify(execFile);
const env = useTestEnvWithWorkers();

describe('the TypeScript client', () => {
  test('examples/ts-client.ts, run as a user runs it, quotes, starts, follows and reads a run through `ados`', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'examples', 'ts-client.ts'), 'tsclient'],
      {
        env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_LOG_LEVEL: 'error' },
        cwd: REPO,
        timeout: 120_000,
      },
    );
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^quote: p50 \$0\.\d{6}, p95 \$0\.\d{6} \(catalog\)$/);
    const runId = /^started (run-[0-9a-f]{8}): ADMITTED$/.exec(lines[1]!)?.[1];
    assert.ok(runId, lines[1]);
    assert.ok(
      lines.some((l) => l === 'progress: COMPLETED, 4/4 nodes'),
      stdout,
    );
    const cost = Number(/^result: COMPLETED, \$(\d+\.\d+)$/m.exec(stdout)?.[1]);
    assert.ok(cost > 0, stdout);

    // What it printed is what ADOS recorded.
    const ados = new AdosClient(env.client);
    const result = await ados.runResult('tsclient', runId);
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.tags?.team, 'examples');
    assert.equal(micros(result.costUsd), micros(cost));
    assert.equal(micros((await ados.tenantStatus('tsclient')).spentUsd), micros(result.costUsd));
    assert.match(stdout, new RegExp(`tenant tsclient: HEALTHY, spent \\$${result.costUsd.toFixed(6)} of \\$5`));
  });

  test('its errors are typed: an invalid run lists every problem and starts nothing; an unknown run is NOT_FOUND', async () => {
    const ados = new AdosClient(env.client);
    const err = await ados
      .startRun({ tenantId: 'tsclient', runId: 'bad', dag: { nodes: [{ id: 'a', kind: 'util.sleep', deps: ['b'] }] } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof AdosError);
    assert.equal(err.code, 'INVALID_INPUT');
    assert.deepEqual(err.issues, ['node a depends on unknown node b']);
    const missing = await ados.runResult('tsclient', 'bad').catch((e: unknown) => e);
    assert.ok(missing instanceof AdosError);
    assert.equal(missing.code, 'NOT_FOUND');
  });

  test('a long-lived program admits its starts from blocks (admissionBlockSeconds): its runs start from a block, spend is exact, and close() hands the blocks back', async () => {
    const refused = await AdosClient.connect({ address: env.address, admissionBlockSeconds: 3 }).catch(
      (e: unknown) => e,
    );
    assert.ok(refused instanceof AdosError);
    assert.equal(refused.code, 'INVALID_INPUT');
    assert.match(
      refused.message,
      /admissionBlockSeconds must be 0 \(off\) or a whole number of seconds from 5 to 300 \(got 3\)/,
    );

    const ados = await AdosClient.connect({ address: env.address, admissionBlockSeconds: 30 });
    await ados.configureTenant('tsblocks', { budgetUsd: 1, maxConcurrentRuns: 20, backpressureThreshold: 1 });
    const node = { id: 'work', kind: 'util.sleep', params: { ms: 3000, costUsd: 0.01 } };
    const started = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        ados.startRun({ tenantId: 'tsblocks', runId: `b-${i}`, dag: { nodes: [node] } }),
      ),
    );
    assert.deepEqual(new Set(started.map((s) => s.admission.status)), new Set(['ADMITTED']));
    const blocks = await Promise.all(
      started.map(
        async (s) =>
          (await env.client.workflow.getHandle(s.workflowId).describe()).searchAttributes.AdmissionBlock?.[0] as
            string | undefined,
      ),
    );
    assert.ok(blocks.filter(Boolean).length >= 8, `${blocks.filter(Boolean).length} of 12 started from a block`);
    // Closed while its runs still run: the blocks go back at once, the runs keep their own slots.
    await ados.close();
    const reader = new AdosClient(env.client);
    const closed = await reader.tenantStatus('tsblocks');
    assert.deepEqual(closed.admissionBlocks, []);
    assert.equal(closed.runsInFlight.length, 12);
    const results = await Promise.all(started.map((s) => reader.runResult('tsblocks', s.runId)));
    assert.ok(results.every((r) => r.status === 'COMPLETED'));
    const after = await eventually(
      async () => {
        const st = await reader.tenantStatus('tsblocks');
        return st.runsInFlight.length === 0 ? st : undefined;
      },
      { what: 'every run released' },
    );
    assert.equal(micros(after.spentUsd), 12 * micros(0.01));
    assert.equal(after.reservedUsd, 0);
  });
});
