import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { Client } from '@temporalio/client';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import type { DevServer } from '../../infra/dev-server';
import { freePort } from '../../infra/ports';
import { textInAnyFrame } from '../../testkit/web-ui';
import { CHROMIUM_FLAGS, ensureChromium } from '../../infra/chromium';
import { eventually, startServerWithWorkers } from '../../testkit/temporal';

/** Where the screenshot is left for whoever looks at the test run. */
export const SCREENSHOT = join(__dirname, '..', 'output', 'web-ui-run.png');

let env: Awaited<ReturnType<typeof startServerWithWorkers>>;
let server: DevServer;
let client: Client;
let browser: Browser;

before(async () => {
  env = await startServerWithWorkers({ port: await freePort(), uiPort: await freePort(), dbFile: null });
  ({ server, client } = env);
  browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await env?.stop();
});

describe('the Temporal Web UI', () => {
  test("filtering by TenantId shows the tenant's runs only, and a run shows its summary and node table", async () => {
    await configureTenant(client, 'webui', { budgetUsd: 10 });
    await configureTenant(client, 'webui-other', { budgetUsd: 10 });
    const dag = (name: string) => ({
      name,
      nodes: [
        { id: 'retrieve', kind: 'retrieval.search', params: { query: 'How is cost counted exactly once?', top_k: 3 } },
        { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o-mini', max_tokens: 80 } },
        { id: 'evaluate', kind: 'eval.score', deps: ['generate'] },
      ],
    });
    await runOutcome(await startRun(client, { tenantId: 'webui', runId: 'ui-run', priority: 2, dag: dag('rag-ui') }));
    await runOutcome(await startRun(client, { tenantId: 'webui-other', runId: 'not-mine', dag: dag('rag-other') }));

    // Visibility is eventually consistent: the query the page sends must find the run before the page can.
    const query = 'TenantId="webui"';
    await eventually(
      async () => {
        for await (const listed of client.workflow.list({ query }))
          if (listed.workflowId === 'delivery-run:webui:ui-run') return true;
        return undefined;
      },
      { timeoutMs: 60_000, what: 'the run in the visibility store' },
    );
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    const link = page.locator('a', { hasText: 'delivery-run:webui:ui-run' }).first();
    // The list is fetched once per load: a page that rendered before the store had the run needs a reload.
    const deadline = Date.now() + 60_000;
    while (!(await link.isVisible()) && Date.now() < deadline) {
      await link.waitFor({ state: 'visible', timeout: 10_000 }).catch(async () => {
        await page.reload();
      });
    }
    assert.ok(await link.isVisible(), "the tenant's run is listed");
    assert.equal(
      await page.locator('a', { hasText: 'delivery-run:webui-other:not-mine' }).count(),
      0,
      "another tenant's run is not",
    );

    await link.click();
    await page.getByText('deliveryRun', { exact: true }).first().waitFor();
    await page
      .getByRole('link', { name: 'User Metadata' })
      .or(page.getByRole('tab', { name: 'User Metadata' }))
      .first()
      .click();
    // The UI renders summaries and details as markdown inside sandboxed frames: look in every frame.
    const inAnyFrame = (text: string | RegExp) => textInAnyFrame(page, text);
    assert.ok(
      await inAnyFrame('webui · rag-ui · 3 nodes · priority 2'),
      'the static summary names tenant, DAG and priority',
    );
    assert.ok(await inAnyFrame('rag-ui · COMPLETED'), 'the current details head the node list');
    assert.ok(
      await inAnyFrame(/\(llm\.generate\) · COMPLETED · 1 attempt · \$0\.\d{6} · gpt-4o-mini · CostAgent: CONTINUE/),
      'each node reads as one line, its fields apart',
    );
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 10_000, 'a screenshot was saved');
  });
});
