import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { configureTenant, runHandle, runOutcome, startRun } from '../../api/client';
import { CHROMIUM_FLAGS, ensureChromium } from '../../infra/chromium';
import { testApi } from '../../testkit/api';
import { ADOS } from '../../testkit/processes';
import { eventually, micros, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();
const run = promisify(execFile);
const OUTPUT = join(__dirname, '..', 'output');
const ADMIN = 'admin-token-for-the-dashboard-0123';

let browser: Browser;
let app: Awaited<ReturnType<typeof testApi>>;
let url: string;

/** The CLI, as a user runs it, against the test's server and artifacts. */
async function ados(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [ADOS, '--json', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address },
  });
  return stdout;
}

const rag = (question: string, model: string) => ({
  nodes: [
    { id: 'retrieve', kind: 'retrieval.search', params: { query: question, top_k: 3 } },
    { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model, max_tokens: 64 } },
  ],
});

/** The page's figure under `data-testid`, exact as the API gave it. */
async function usdOf(page: Page, testid: string): Promise<number> {
  return Number(await page.getByTestId(testid).getAttribute('data-usd'));
}

async function byModel(page: Page): Promise<Record<string, number>> {
  const rows = page.locator('[data-testid="by-model"] tr[data-key]');
  const out: Record<string, number> = {};
  for (let i = 0; i < (await rows.count()); i++)
    out[(await rows.nth(i).getAttribute('data-key'))!] = Number(await rows.nth(i).getAttribute('data-usd'));
  return out;
}

const cents = (usd: number) => Math.round(usd * 100);

describe('the dashboard', () => {
  // Inside the suite: after the test env's own hooks have started the server.
  before(async () => {
    browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_FLAGS });
    app = await testApi(env.client, ADMIN);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    mkdirSync(OUTPUT, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('the admin sees every tenant, and a tenant’s page shows what ados tenant show and ados report say; a new run’s spend appears within 2 s', async () => {
    await configureTenant(env.client, 'dash-a', { budgetUsd: 0.05, maxConcurrentRuns: 5 });
    await configureTenant(env.client, 'dash-b', { budgetUsd: 2 });
    // A workload: RAG runs on two models with tags, and a run that stays in flight.
    await Promise.all(
      ['gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini'].map(async (model, i) =>
        runOutcome(
          await startRun(env.client, {
            tenantId: 'dash-a',
            runId: `rag-${i}`,
            tags: { team: i % 2 ? 'search' : 'ads' },
            dag: rag(`How does ADOS handle budgets, question ${i}?`, model),
          }),
        ),
      ),
    );
    // A run the budget cannot cover: stopped by the CostAgent, a decision the page lists with its reason.
    const refused = await runOutcome(
      await startRun(env.client, {
        tenantId: 'dash-a',
        runId: 'too-big',
        dag: { nodes: [{ id: 'bill', kind: 'util.sleep', params: { ms: 1, costUsd: 1 } }] },
      }),
    );
    assert.ok(['REJECTED', 'TERMINATED'].includes(refused.status), refused.status);
    const holding = await startRun(env.client, {
      tenantId: 'dash-a',
      runId: 'holding',
      dag: { nodes: [{ id: 'wait', kind: 'util.sleep', params: { ms: 60_000, costUsd: 0.001 } }] },
    });

    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`${url}/dashboard/#token=${ADMIN}`);
    await page.getByTestId('tenants').locator('tr[data-tenant="dash-a"]').waitFor();
    assert.equal(await page.locator('tr[data-tenant="dash-b"]').count(), 1, 'the admin sees every tenant');
    await page.screenshot({ path: join(OUTPUT, 'dashboard-admin-tenants.png') });

    await page.locator('a[href="#/tenant/dash-a"]').click();
    await page.getByTestId('spent').waitFor();
    await eventually(async () =>
      (await page.getByTestId('runs-in-flight').getAttribute('data-count')) === '1' ? true : undefined,
    );
    const shown = await ados('tenant', 'show', 'dash-a');
    const status = JSON.parse(shown) as { spentUsd: number; budgetUsd: number; runsInFlight: unknown[] };
    const report = JSON.parse(await ados('report', '--tenant', 'dash-a', '--format', 'json')) as {
      totalUsd: number;
      byModel: Record<string, number>;
    };
    assert.equal(cents(await usdOf(page, 'spent')), cents(status.spentUsd), 'spend, as ados tenant show');
    assert.equal(
      micros(await usdOf(page, 'spent')),
      micros(report.totalUsd),
      'spend, as ados report, to the micro-dollar',
    );
    assert.equal(await usdOf(page, 'budget'), status.budgetUsd);
    assert.equal(
      Number(await page.getByTestId('runs-in-flight').getAttribute('data-count')),
      status.runsInFlight.length,
    );
    const models = await byModel(page);
    assert.deepEqual(
      Object.fromEntries(Object.entries(models).map(([m, v]) => [m, micros(v)])),
      Object.fromEntries(Object.entries(report.byModel).map(([m, v]) => [m, micros(v)])),
      'spend by model, as ados report',
    );
    assert.ok(Object.keys(models).length >= 3, JSON.stringify(models));
    const decision = page.locator('[data-testid="decisions"] tr', { hasText: 'too-big' });
    await eventually(async () => ((await decision.count()) === 1 ? true : undefined), { what: 'the rejection' });
    const cells = await decision.locator('td').allTextContents();
    assert.equal(cells[1], refused.status);
    assert.equal(cells[2], refused.reason, 'the reason, as the run gives it');
    assert.match(
      (await decision.locator('a').getAttribute('href'))!,
      /\/namespaces\/default\/workflows\/delivery-run%3Adash-a%3Atoo-big$/,
      'linked to the run in the Web UI',
    );
    // Predicted against actual: the finished RAG runs, each its start projection and its cost.
    const predicted = page.locator('[data-testid="prediction-runs"] tr[data-run]');
    await eventually(async () => ((await predicted.count()) === 4 ? true : undefined), {
      what: 'the four finished runs predicted against actual',
    });
    for (const i of [0, 1, 2, 3]) {
      const runId = (await predicted.nth(i).getAttribute('data-run'))!;
      const result = await runOutcome(runHandle(env.client, 'dash-a', runId));
      const cells = await predicted.nth(i).locator('td').allTextContents();
      assert.equal(cells[1], `$${result.decisions[0]!.runProjectedUsd!.toFixed(6)}`, `${runId} projected`);
      assert.equal(cells[2], `$${result.costUsd.toFixed(6)}`, `${runId} actual`);
    }
    await page.screenshot({ path: join(OUTPUT, 'dashboard-admin.png'), fullPage: true });

    // A new run's spend on the page within 2 s of its end.
    const before = micros(await usdOf(page, 'spent'));
    const result = await runOutcome(
      await startRun(env.client, {
        tenantId: 'dash-a',
        runId: 'fresh',
        dag: { nodes: [{ id: 'bill', kind: 'util.sleep', params: { ms: 1, costUsd: 0.0042 } }] },
      }),
    );
    const ended = Date.now();
    const expected = before + micros(result.costUsd);
    for (let i = 0; i < 100 && micros(await usdOf(page, 'spent')) < expected; i++) await page.waitForTimeout(50);
    const took = Date.now() - ended;
    assert.ok(took <= 2000, `the new run's spend showed ${took} ms after it ended`);
    await runOutcome(holding);
    await page.close();
  });

  test('a tenant token sees its own tenant only: another tenant’s page is a 404', async () => {
    const issued = await app.inject({
      method: 'POST',
      url: '/v1/tenants/dash-b/tokens',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: {},
    });
    assert.equal(issued.statusCode, 201, issued.body);
    const token = (issued.json() as { token: string }).token;
    await startRun(env.client, {
      tenantId: 'dash-b',
      runId: 'b-1',
      dag: rag('What does the exporter write?', 'gpt-4o-mini'),
    }).then(runOutcome);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`${url}/dashboard/#token=${token}`);
    await page.getByTestId('spent').waitFor();
    assert.equal(await page.locator('#who').textContent(), 'tenant dash-b', 'straight to its own tenant');
    await eventually(async () => ((await usdOf(page, 'spent')) > 0 ? true : undefined), { what: 'its spend' });
    await page.screenshot({ path: join(OUTPUT, 'dashboard-tenant.png'), fullPage: true });

    const overview = await app.inject({
      method: 'GET',
      url: '/v1/dashboard',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(
      (overview.json() as { tenants: Array<{ tenantId: string }> }).tenants.map((t) => t.tenantId),
      ['dash-b'],
      'the overview holds its own tenant only',
    );
    await page.goto(`${url}/dashboard/#/tenant/dash-a`);
    const error = page.getByTestId('error');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-status'), '404');
    const direct = await app.inject({
      method: 'GET',
      url: '/v1/tenants/dash-a/dashboard',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(direct.statusCode, 404);
    await page.close();
  });
});
