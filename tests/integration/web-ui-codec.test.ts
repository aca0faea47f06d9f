import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { chromium, type Browser } from 'playwright-core';
import pino from 'pino';
import { buildCodecServer } from '../../api/servers/codec-server';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { CHROMIUM_FLAGS, ensureChromium } from '../../infra/chromium';
import type { DevServer } from '../../infra/dev-server';
import { freePort } from '../../infra/ports';
import { textInAnyFrame } from '../../testkit/web-ui';
import { startServerWithWorkers } from '../../testkit/temporal';

// Every payload of this file's clients and workers is sealed with this key ring.
process.env.ADOS_PAYLOAD_CODEC = 'aes';
process.env.ADOS_KEYRING = JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } });

export const SCREENSHOT = join(__dirname, '..', 'output', 'web-ui-codec-run.png');
const ADMIN = 'admin-token-for-the-web-ui-codec-0123';

let env: Awaited<ReturnType<typeof startServerWithWorkers>>;
let server: DevServer;
let client: Client;
let stopCodec: () => Promise<void>;
let browser: Browser;

before(async () => {
  const codecPort = await freePort();
  // The Web UI sends no token of its own: the codec endpoint carries one in its path.
  env = await startServerWithWorkers({
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: null,
    uiCodecEndpoint: `http://127.0.0.1:${codecPort}/t/${ADMIN}`,
  });
  ({ server, client } = env);
  const codec = await buildCodecServer({
    client,
    adminToken: ADMIN,
    corsOrigin: server.uiUrl!,
    logger: pino({ level: 'silent' }),
  });
  await codec.listen({ port: codecPort, host: '127.0.0.1' });
  stopCodec = () => codec.close();
  browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await stopCodec?.();
  await env?.stop();
});

describe('the Temporal Web UI with the codec server', () => {
  test('an encrypted run shows its decoded input and node table', async () => {
    const planted = `question-${randomBytes(4).toString('hex')}`;
    await configureTenant(client, 'webui-sealed', { budgetUsd: 10 });
    await runOutcome(
      await startRun(client, {
        tenantId: 'webui-sealed',
        runId: 'sealed-run',
        dag: {
          name: 'rag-sealed',
          nodes: [
            { id: 'retrieve', kind: 'retrieval.search', params: { query: planted, top_k: 3 } },
            {
              id: 'generate',
              kind: 'llm.generate',
              deps: ['retrieve'],
              params: { model: 'gpt-4o-mini', max_tokens: 60 },
            },
          ],
        },
      }),
    );
    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    const url = `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent('delivery-run:webui-sealed:sealed-run')}`;
    await page.goto(url);
    await page.getByText('deliveryRun', { exact: true }).first().waitFor({ timeout: 30_000 });
    const visible = (text: string | RegExp) => textInAnyFrame(page, text);
    assert.ok(await visible(planted), 'the run input, decoded by the codec server, shows the question');
    await page
      .getByRole('link', { name: 'User Metadata' })
      .or(page.getByRole('tab', { name: 'User Metadata' }))
      .first()
      .click();
    assert.ok(await visible('rag-sealed · COMPLETED'), 'the node table (current details) is readable');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 10_000, 'a screenshot was saved');
  });

  test("a failed run's failure message, sealed in history, is readable through the codec server", async () => {
    // The node id is the tenant's text the failure message quotes.
    const node = `broken_${randomBytes(4).toString('hex')}`;
    const reason = `node ${node} always fails`;
    const handle = await startRun(client, {
      tenantId: 'webui-sealed',
      runId: 'failed-run',
      dag: { nodes: [{ id: node, kind: 'util.fail', params: { always: true } }] },
    });
    await handle.result().catch(() => undefined);
    const { runId } = await handle.describe();
    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    await page.goto(
      `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}/${runId}/history`,
    );
    await page.getByText('deliveryRun', { exact: true }).first().waitFor({ timeout: 30_000 });
    let shown = false;
    for (let i = 0; i < 30 && !shown; i++) {
      shown = (await page.locator('body').innerText()).includes(reason);
      if (!shown) await page.waitForTimeout(500);
    }
    assert.ok(shown, 'the failure message, decoded from its encoded attributes, is on the page');
  });
});
