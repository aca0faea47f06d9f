import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { AdosClient, AdosError } from 'ados';
import { REPO } from '../helpers/docs';
import { micros, useTestEnvWithWorkers } from '../helpers/temporal';

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
});
