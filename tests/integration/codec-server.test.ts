import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pino from 'pino';
import { buildCodecServer } from '../../api/servers/codec-server';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { issueTenantToken } from '../../api/http/tokens';
import { freePort, useTestEnvWithWorkers } from '../../testkit/temporal';
import { readablePayloads, showHistory } from '../../testkit/history';

const ring = { active: 'k1', keys: { k1: randomBytes(32).toString('base64') } };
process.env.ADOS_PAYLOAD_CODEC = 'aes';
process.env.ADOS_KEYRING = JSON.stringify(ring);

const env = useTestEnvWithWorkers();
const ADMIN = 'admin-token-for-the-codec-0123456789';

describe('the codec server', () => {
  test('temporal workflow show with --codec-endpoint shows the plaintext to the admin and the run’s tenant; another tenant is refused', async () => {
    const planted = `planted prompt ${randomBytes(6).toString('hex')}`;
    await configureTenant(env.client, 'acme', { budgetUsd: 5 });
    await configureTenant(env.client, 'globex', { budgetUsd: 5 });
    const handle = await startRun(env.client, {
      tenantId: 'acme',
      runId: 'sealed',
      dag: { nodes: [{ id: 'generate', kind: 'llm.generate', params: { model: 'gpt-4o-mini', prompt: planted } }] },
    });
    assert.equal((await runOutcome(handle)).status, 'COMPLETED');
    const acme = (await issueTenantToken(env.client, 'acme')).token;
    const globex = (await issueTenantToken(env.client, 'globex')).token;

    const app = await buildCodecServer({
      client: env.client,
      adminToken: ADMIN,
      corsOrigin: 'http://localhost:8233',
      logger: pino({ level: 'silent' }),
    });
    const port = await freePort();
    await app.listen({ port, host: '127.0.0.1' });
    try {
      const show = (...extra: string[]) => showHistory(env.address, handle.workflowId, extra);
      const endpoint = `http://127.0.0.1:${port}`;
      assert.ok(!readablePayloads(await show()).includes(planted), 'without the codec: ciphertext');
      assert.ok(
        readablePayloads(await show('--codec-endpoint', endpoint, '--codec-auth', `Bearer ${ADMIN}`)).includes(planted),
      );
      assert.ok(
        readablePayloads(await show('--codec-endpoint', endpoint, '--codec-auth', `Bearer ${acme}`)).includes(planted),
      );
      await assert.rejects(show('--codec-endpoint', endpoint, '--codec-auth', `Bearer ${globex}`));
      await assert.rejects(show('--codec-endpoint', endpoint));

      // The Web UI's preflight from its origin, and a path token for a UI that sends no header.
      const preflight = await fetch(`${endpoint}/decode`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:8233' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:8233');
      const encoded = await fetch(`${endpoint}/t/${acme}/encode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          payloads: [
            {
              metadata: { encoding: Buffer.from('json/plain').toString('base64') },
              data: Buffer.from('"hi"').toString('base64'),
            },
          ],
        }),
      });
      const body = (await encoded.json()) as { payloads: Array<{ metadata: Record<string, string> }> };
      assert.equal(Buffer.from(body.payloads[0]!.metadata['encryption-scope']!, 'base64').toString(), 'acme');
      const refused = await fetch(`${endpoint}/t/${globex}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(refused.status, 403);

      // A query without arguments: the Temporal CLI sends {} (protobuf JSON leaves an empty list out).
      const empty = await fetch(`${endpoint}/encode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
        body: '{}',
      });
      assert.deepEqual(await empty.json(), { payloads: [] });
      const malformed = await fetch(`${endpoint}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify({ payloads: 'x' }),
      });
      assert.equal(malformed.status, 400);
    } finally {
      await app.close();
    }
  });
});
