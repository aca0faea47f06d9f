import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import type { DevServer } from '../../infra/dev-server';
import { freePort } from '../../infra/ports';
import { startServerWithWorkers } from '../../testkit/temporal';
import { readablePayloads, showHistory } from '../../testkit/history';

process.env.ADOS_PAYLOAD_CODEC = 'aes';
process.env.ADOS_KEYRING = JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } });
process.env.ADOS_ALERT_ALLOW_PRIVATE = 'true';

const dir = mkdtempSync(join(tmpdir(), 'ados-at-rest-'));
const dbFile = join(dir, 'temporal.db');
let env: Awaited<ReturnType<typeof startServerWithWorkers>>;
let server: DevServer;
let client: Client;

before(async () => {
  // A server that keeps its state in a file, so the test can read what is stored.
  env = await startServerWithWorkers({ port: await freePort(), headless: true, dbFile });
  ({ server, client } = env);
});

after(async () => {
  await env?.stop();
});

describe('tenant data at rest', () => {
  test('a planted prompt and a planted alert secret are in neither a full history export nor the server’s database', async () => {
    const prompt = `planted-prompt-${randomBytes(8).toString('hex')}`;
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    await configureTenant(
      client,
      'at-rest',
      { budgetUsd: 5, alerts: { webhookUrl: 'http://127.0.0.1:9/hook', secret, thresholds: [0.5] } },
      { allowPrivate: true },
    );
    const handle = await startRun(client, {
      tenantId: 'at-rest',
      runId: 'planted',
      dag: { nodes: [{ id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o-mini', prompt } }] },
    });
    assert.equal((await runOutcome(handle)).status, 'COMPLETED');

    const secretBody = secret.slice('whsec_'.length);
    const needles = [
      prompt,
      secretBody,
      Buffer.from(prompt).toString('base64'),
      Buffer.from(secretBody).toString('base64'),
    ];
    for (const workflowId of [handle.workflowId, 'tenant-budget:at-rest']) {
      const decoded = readablePayloads(await showHistory(server.address, workflowId));
      for (const needle of needles)
        assert.ok(!decoded.includes(needle), `${workflowId}'s history holds ${needle.slice(0, 16)}…`);
    }
    // Everything the server wrote: its SQLite file and its write-ahead log.
    const stored = readdirSync(dir)
      .filter((f) => f.startsWith('temporal.db'))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');
    assert.ok(stored.length > 100_000, 'the database holds the runs');
    assert.ok(stored.includes('delivery-run:at-rest:planted'), 'the workflow ids are stored in the clear');
    for (const needle of needles) assert.ok(!stored.includes(needle), `the database holds ${needle.slice(0, 16)}…`);
  });
});
