import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { exportRun } from '../../activities/export/exporter';
import { useTestEnvWithWorkers } from '../../testkit/temporal';
import { readablePayloads, showHistory } from '../../testkit/history';
import { ADOS } from '../../testkit/processes';

// This file's clients and workers seal every payload with this key ring.
const ring = { active: 'k1', keys: { k1: randomBytes(32).toString('base64') } };
process.env.ADOS_PAYLOAD_CODEC = 'aes';
process.env.ADOS_KEYRING = JSON.stringify(ring);

const env = useTestEnvWithWorkers();
const run = promisify(execFile);

describe('payload encryption (ADOS_PAYLOAD_CODEC=aes)', () => {
  test('the server stores ciphertext: temporal workflow show without the key ring shows no prompt; ADOS clients read the run; ados replay needs the key', async () => {
    const planted = `planted prompt ${randomBytes(6).toString('hex')}`;
    await configureTenant(env.client, 'sealed', { budgetUsd: 5 });
    const handle = await startRun(env.client, {
      tenantId: 'sealed',
      runId: 'secret-run',
      dag: { nodes: [{ id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o-mini', prompt: planted } }] },
    });
    const result = await runOutcome(handle);
    assert.equal(result.status, 'COMPLETED', 'ADOS clients and workers read their own payloads');

    const stdout = await showHistory(env.address, handle.workflowId);
    const visible = readablePayloads(stdout);
    assert.ok(visible.includes('binary/encrypted'), 'payloads are marked encrypted');
    assert.ok(!visible.includes(planted), 'the prompt is nowhere in the stored history');
    assert.ok(!visible.includes('gpt-4o-mini'), 'nor the run input');

    // The exporter writes the history as stored (encrypted) and the other files decoded.
    const exported = await exportRun(env.client, 'sealed', 'secret-run', { force: true });
    assert.equal(exported.exported, true);
    const runDir = join(process.env.ADOS_ARTIFACTS_DIR!, 'runs', 'sealed', 'secret-run');
    assert.ok(!readablePayloads(readFileSync(join(runDir, 'history.json'), 'utf8')).includes(planted));
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { status: string };
    assert.equal(summary.status, 'COMPLETED');
    assert.ok(readFileSync(join(runDir, 'trace.jsonl'), 'utf8').includes(planted), 'the trace is decoded');

    // The history replays with the key ring, and without its key fails naming the key.
    const dir = mkdtempSync(join(tmpdir(), 'ados-sealed-'));
    const file = join(dir, 'sealed-run.json');
    writeFileSync(file, stdout);
    const ok = await run(process.execPath, [ADOS, 'replay', file], { env: { ...process.env } });
    assert.match(ok.stdout, /^ok /m);
    const other = { active: 'k2', keys: { k2: randomBytes(32).toString('base64') } };
    await assert.rejects(
      run(process.execPath, [ADOS, 'replay', file], { env: { ...process.env, ADOS_KEYRING: JSON.stringify(other) } }),
      (err: { stdout?: string; stderr?: string }) => {
        assert.match(`${err.stdout}${err.stderr}`, /key k1, which is not in the key ring/);
        return true;
      },
    );
  });
});
