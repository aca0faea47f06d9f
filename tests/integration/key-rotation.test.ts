import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { configureTenant, connectClient, runOutcome, startRun } from '../../api/client';
import { progressQuery } from '../../workflows/delivery-run';
import { eventually, sleepChain, startTestEnv, type TestEnv } from '../../testkit/temporal';
import { showHistory } from '../../testkit/history';
import { ADOS } from '../../testkit/processes';

const a = randomBytes(32).toString('base64');
const b = randomBytes(32).toString('base64');
process.env.ADOS_PAYLOAD_CODEC = 'aes';
process.env.ADOS_KEYRING = JSON.stringify({ active: 'a', keys: { a } });

const run = promisify(execFile);
let env: TestEnv | undefined;
after(async () => {
  await env?.teardown();
});

/** The key ids of a history's encrypted payloads. */
function keyIds(historyJson: string): Set<string> {
  return new Set(
    [...historyJson.matchAll(/"encryption-key-id":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) =>
      Buffer.from(m[1]!, 'base64').toString(),
    ),
  );
}

describe('key rotation', () => {
  test('a run started under key a finishes after the active key becomes b; its history names both and replays', async () => {
    env = await startTestEnv();
    const stopA = await env.startWorkers();
    await configureTenant(env.client, 'rotating', { budgetUsd: 5 });
    const handle = await startRun(env.client, {
      tenantId: 'rotating',
      runId: 'across-keys',
      dag: { nodes: sleepChain([0.001, 0.002], 2500) },
    });
    await eventually(async () => (await handle.query(progressQuery)).nodes.n0?.status === 'RUNNING');

    // Rotate: b is added and made active; a stays in the ring. Workers and clients restart with it.
    process.env.ADOS_KEYRING = JSON.stringify({ active: 'b', keys: { a, b } });
    await stopA();
    const stopB = await env.startWorkers();
    const client = await connectClient(env.address);
    try {
      const result = await runOutcome(client.workflow.getHandle(handle.workflowId));
      assert.equal(result.status, 'COMPLETED');
      assert.equal(result.costUsd, 0.003);
      const later = await runOutcome(
        await startRun(client, { tenantId: 'rotating', runId: 'under-b', dag: { nodes: sleepChain([0.001], 10) } }),
      );
      assert.equal(later.status, 'COMPLETED');

      const dir = mkdtempSync(join(tmpdir(), 'ados-rotation-'));
      const files: string[] = [];
      for (const workflowId of [handle.workflowId, 'delivery-run:rotating:under-b']) {
        const stdout = await showHistory(env.address, workflowId);
        const file = join(dir, `${workflowId.replace(/:/g, '_')}.json`);
        writeFileSync(file, stdout);
        files.push(file);
        assert.deepEqual(
          [...keyIds(stdout)].sort(),
          workflowId === handle.workflowId ? ['a', 'b'] : ['b'],
          `${workflowId}: the keys its payloads were sealed under`,
        );
      }
      // Both histories replay with the rotated ring.
      const replayed = await run(process.execPath, [ADOS, 'replay', ...files], { env: { ...process.env } });
      assert.equal((replayed.stdout.match(/^ok /gm) ?? []).length, 2, replayed.stdout);
    } finally {
      await stopB();
      await client.connection.close();
    }
  });
});
