/** The demo: tenants, RAG runs, a degraded run and a rejected one, on a dev server. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../../infra/config';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';
import { connectWorker } from '../../infra/worker-connection';
import { startDevServer, temporalAnswers, type DevServer } from '../../infra/dev-server';
import { startAdosWorkers } from '../../workers/ados-worker';
import { installTemporalLogging } from '../../infra/logging/runtime-logger';
import { logger } from '../../infra/logging/logger';
import type { deliveryRun } from '../../workflows/delivery-run';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import type { TenantConfigPatch } from '../../workflows/domain/tenant/tenant-config';
import { configureTenant, runOutcome, startRun, temporalNamespace, tenantStatus } from '../client';
import { createBars, poll } from '../cli/progress';
import { localCodecServerIfSealed } from '../servers/codec-server';
import { keyRing } from '../../infra/seal';
import { artifactsRoot } from '../../activities/export/atomic';
import { exportFinished } from '../../activities/export/exporter';
import { ExecutionTrace } from '../../workers/execution-trace';
import { toMicros, usd } from '../../workflows/domain/pricing/catalog';
import { LOCAL_MODEL, requireLocalModel } from '../../infra/llm/local-model';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { buildApi } from '../http/app';
import { createMetrics } from '../../infra/metrics/registry';

interface DemoTenant {
  tenantId: string;
  config: TenantConfigPatch;
  model: string;
  /** What this tenant is in the demo to show. */
  story: string;
  /** Its story with --llm local, where it tells another (the local model has no cheaper model to learn). */
  localStory?: string;
  /** An extra node whose real cost is not known beforehand (an external tool's bill). */
  surpriseCostUsd?: number;
}

const TENANTS: DemoTenant[] = [
  {
    tenantId: 'acme',
    config: {
      budgetUsd: 25,
      maxConcurrentRuns: 10,
      period: 'monthly',
      learning: { intensity: 'AGGRESSIVE', minSamples: 2 },
    },
    model: 'gpt-4o',
    story:
      'a healthy tenant: plenty of budget and room, every run at full quality; it learns AGGRESSIVELY, so half its runs also try gpt-4o-mini in shadow, paid from its learning share',
    localStory:
      'a healthy tenant: plenty of budget and room, every run at full quality, each answer written by the local model and charged its real token usage',
  },
  {
    tenantId: 'globex',
    config: { budgetUsd: 10, maxConcurrentRuns: 3, period: 'monthly' },
    model: 'gpt-4.1',
    story:
      'under concurrency pressure: with 3 of 3 runs in flight, runs degrade (fewer candidates, cheaper model, no reranking)',
    localStory:
      'under concurrency pressure: with 3 of 3 runs in flight, runs degrade (fewer candidates, no reranking; the local model has no cheaper model)',
  },
  {
    tenantId: 'initech',
    config: { budgetUsd: 0.05, maxConcurrentRuns: 3, period: 'daily' },
    model: 'claude-haiku',
    story:
      'a small budget and an external tool whose real bill is unknown in advance: it goes over, its runs in flight are terminated, and its next runs are rejected',
    surpriseCostUsd: 0.03,
  },
];

const QUESTIONS = [
  'How does ADOS decide whether a run may start?',
  'What does the CostAgent do before every node?',
  'How are node task queues partitioned by tenant?',
  'What happens when a critical node fails?',
  'How is cost counted exactly once?',
  'Which search attributes does a delivery run set?',
  'What are the hot-entity limits of a tenant workflow?',
  'Where are run artifacts written?',
];

/** Where the demo's answers come from: the offline provider, or the real local model (`--llm local`). */
export const DEMO_LLMS = ['offline', 'local'] as const;
export type DemoLlm = (typeof DEMO_LLMS)[number];

export function ragRun(tenant: DemoTenant, index: number, runId: string, llm: DemoLlm = 'offline') {
  const nodes: Array<Record<string, unknown>> = [
    { id: 'retrieve', kind: 'retrieval.search', params: { query: QUESTIONS[index % QUESTIONS.length], top_k: 5 } },
    {
      id: 'generate',
      kind: 'llm.generate',
      deps: ['retrieve'],
      // The local model writes short answers, so that 24 runs take a minute or two on one CPU thread.
      params:
        llm === 'local'
          ? { model: LOCAL_MODEL, num_candidates: 2 + (index % 2), max_tokens: 64 }
          : { model: tenant.model, num_candidates: 2 + (index % 2) },
    },
    { id: 'advanced_reranking', kind: 'rerank', deps: ['generate'], critical: false },
    { id: 'evaluate', kind: 'eval.score', deps: ['advanced_reranking'] },
  ];
  if (tenant.surpriseCostUsd) {
    // Estimated at a tenth of a cent; the real bill arrives with the result, before the evaluation is authorised.
    nodes.push({
      id: 'external_tool',
      kind: 'util.sleep',
      deps: ['generate'],
      params: { ms: 300, costUsd: tenant.surpriseCostUsd },
      estimatedCostUsd: 0.001,
    });
    nodes.find((n) => n.id === 'evaluate')!.deps = ['advanced_reranking', 'external_tool'];
  }
  return {
    tenantId: tenant.tenantId,
    runId,
    priority: (index % 5) + 1,
    maxParallelism: 4,
    // Showback labels: `ados report --tenant acme` splits the spend by them.
    tags: { app: 'rag-demo', question: `q${index % QUESTIONS.length}` },
    dag: { name: 'rag-delivery', nodes },
  };
}

export interface DemoOptions {
  once: boolean;
  runs: number;
  json: boolean;
  llm?: DemoLlm;
}

export interface DemoSummary {
  address: string;
  uiUrl: string;
  /** The live dashboard, with a token that opens it (the admin's). */
  dashboardUrl: string;
  elapsedMs: number;
  tenants: Array<{
    tenantId: string;
    story: string;
    /** The most common reason behind each outcome other than COMPLETED. */
    why: Record<string, string>;
    runs: number;
    byStatus: Record<string, number>;
    costUsd: number;
    spentUsd: number;
    budgetUsd: number;
    budgetStatus: string;
    learning: { intensity: string; shadows: number; spentUsd: number; budgetUsd: number; preferences: string[] };
    webUi: string;
  }>;
}

/**
 * The HTTP API with its dashboard, on ADOS_API_PORT (any free port if that one is taken), opened
 * with an admin token made for this demo's own API: printable, unlike ADOS_ADMIN_TOKEN, which
 * never appears in any output.
 */
async function startDashboard(client: Client, config: ReturnType<typeof loadConfig>, uiUrl: string) {
  const adminToken = `demo-${randomBytes(16).toString('hex')}`;
  const app = await buildApi({
    client,
    config: { ...config, ADOS_ADMIN_TOKEN: adminToken, ADOS_WEB_UI_URL: uiUrl },
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  const url = await app
    .listen({ port: config.ADOS_API_PORT, host: config.ADOS_API_HOST })
    .catch(() => app.listen({ port: 0, host: config.ADOS_API_HOST }));
  return { dashboardUrl: `${url}/dashboard/#token=${adminToken}`, stop: () => app.close() };
}

function webUiLink(uiBase: string, tenantId: string): string {
  return `${uiBase}/namespaces/${temporalNamespace()}/workflows?query=${encodeURIComponent(`TenantId="${tenantId}"`)}`;
}

/** The main job: an embedded dev server (unless one answers), workers, three tenants, RAG runs. */
export async function runDemo({ once, runs, json, llm = 'offline' }: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  // Before any server starts: a missing model is one line naming the command that installs it.
  if (llm === 'local') requireLocalModel();
  logger.level = 'warn';
  installTemporalLogging('warn');
  const say = (line: string) => !json && process.stderr.write(`${line}\n`);

  const config = loadConfig();
  const requested = temporalTarget();
  let server: DevServer | undefined;
  let codec: Awaited<ReturnType<typeof localCodecServerIfSealed>>;
  let target = requested;
  let uiUrl = config.ADOS_WEB_UI_URL;
  if (await temporalAnswers(requested)) {
    say(`using the Temporal server that answers at ${requested.summary}`);
  } else {
    say('starting the embedded Temporal dev server (state in .temporal/ados-dev.db) ...');
    // Payloads are encrypted (the key ring, generated on first use); the Web UI reads them through a codec server.
    codec = await localCodecServerIfSealed(logger);
    server = await startDevServer({ uiCodecEndpoint: codec?.uiEndpoint });
    target = temporalTarget({ address: server.address });
    uiUrl = server.uiUrl ?? uiUrl;
    say(`Temporal dev server at ${server.address} · Web UI ${uiUrl}`);
  }

  const connection = await connectWorker(target);
  const trace = new ExecutionTrace(`ados-demo-${process.pid}`);
  const workers = await startAdosWorkers({
    connection,
    identity: `ados-demo@${process.pid}`,
    clientAddress: target.address,
    trace,
  });
  const client = await temporalClient(target);
  const stopCodec = codec && (await codec.serve(client, uiUrl));
  const dashboard = await startDashboard(client, config, uiUrl);
  // Whatever happens from here on, what the demo started is stopped: an error ends the demo, it never hangs.
  try {
    say(`dashboard (budgets and spend, live): ${dashboard.dashboardUrl}`);
    if (codec) say(`payloads encrypted with key ${keyRing().active}; the Web UI decodes them through ${codec.url}`);
    else if (config.ADOS_PAYLOAD_CODEC === 'aes')
      say(`payloads encrypted with key ${keyRing().active}; \`ados codec-server\` lets that server's Web UI read them`);

    for (const tenant of TENANTS) await configureTenant(client, tenant.tenantId, tenant.config);
    say(
      `tenants: ${TENANTS.map((t) => `${t.tenantId} ($${t.config.budgetUsd}, ${t.config.maxConcurrentRuns} at once)`).join(', ')}`,
    );

    const stamp = Date.now().toString(36);
    const handles: Array<{ tenant: DemoTenant; handle: WorkflowHandle<typeof deliveryRun> }> = [];
    for (let i = 0; i < runs; i++) {
      const tenant = TENANTS[i % TENANTS.length]!;
      handles.push({ tenant, handle: await startRun(client, ragRun(tenant, i, `demo-${stamp}-${i}`, llm)) });
    }
    say(
      `started ${runs} RAG delivery runs with priorities 1-5${llm === 'local' ? `, every answer written by ${LOCAL_MODEL} on this CPU (priced at ADOS_LOCAL_LLM_RATE)` : ''}`,
    );

    const results: Array<{ tenantId: string; result: DeliveryRunResult }> = [];
    const bars = createBars(!json && process.stderr.isTTY);
    const barOf = new Map(
      TENANTS.map((t) => [
        t.tenantId,
        bars?.create(handles.filter((h) => h.tenant === t).length, 0, {
          label: t.tenantId.padEnd(8),
          unit: 'runs',
          cost: '0.0000',
          status: 'HEALTHY',
        }),
      ]),
    );
    const refresh = async (c: Client) => {
      for (const t of TENANTS) {
        const status = await tenantStatus(c, t.tenantId).catch(() => undefined);
        const done = results.filter((r) => r.tenantId === t.tenantId).length;
        if (status)
          barOf.get(t.tenantId)?.update(done, {
            cost: status.spentUsd.toFixed(4),
            status: `${status.budgetStatus} · ${status.runsInFlight.length} running, ${status.runsWaiting.length} waiting`,
          });
      }
    };
    const poller = poll(() => refresh(client));
    await Promise.all(
      handles.map(async ({ tenant, handle }) => {
        const result = await runOutcome(handle);
        results.push({ tenantId: tenant.tenantId, result });
        if (!bars) say(`  ${tenant.tenantId} ${result.runId}: ${result.status} $${result.costUsd.toFixed(6)}`);
      }),
    );
    await poller.stop();
    await refresh(client);
    bars?.stop();

    const summary: DemoSummary = {
      address: target.address,
      uiUrl,
      dashboardUrl: dashboard.dashboardUrl,
      elapsedMs: Date.now() - started,
      tenants: [],
    };
    for (const t of TENANTS) {
      const mine = results.filter((r) => r.tenantId === t.tenantId).map((r) => r.result);
      // Shadows run after their runs; give them a moment to settle so the learning figures are whole.
      let status = await tenantStatus(client, t.tenantId);
      for (let i = 0; i < 50 && status.learning.learningReservedUsd > 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = await tenantStatus(client, t.tenantId);
      }
      const byStatus: Record<string, number> = {};
      for (const r of mine) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      summary.tenants.push({
        tenantId: t.tenantId,
        story: (llm === 'local' ? t.localStory : undefined) ?? t.story,
        why: whyByStatus(mine),
        runs: mine.length,
        byStatus,
        costUsd: usd(mine.reduce((s, r) => s + toMicros(r.costUsd), 0)),
        spentUsd: status.spentUsd,
        budgetUsd: status.budgetUsd,
        budgetStatus: status.budgetStatus,
        learning: {
          intensity: status.learning.intensity,
          shadows: status.learning.history.filter((e) => e.type === 'exploration').length,
          spentUsd: status.learning.learningSpentUsd,
          budgetUsd: status.learning.learningBudgetUsd,
          preferences: status.learning.preferences.map(
            (p) =>
              `${p.toModel} instead of ${p.fromModel} (quality ${p.evidence.qualityShadow} vs ${p.evidence.qualityFull})`,
          ),
        },
        webUi: webUiLink(uiUrl, t.tenantId),
      });
    }
    if (json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stdout.write(`\nADOS demo: ${runs} runs in ${(summary.elapsedMs / 1000).toFixed(1)} s\n\n`);
      process.stdout.write(
        `${'tenant'.padEnd(9)} ${'runs'.padEnd(5)} ${'outcomes'.padEnd(50)} ${'this demo'.padEnd(11)} ${'period spend'.padEnd(20)} status\n`,
      );
      for (const s of summary.tenants) {
        const outcomes = Object.entries(s.byStatus)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        process.stdout.write(
          `${s.tenantId.padEnd(9)} ${String(s.runs).padEnd(5)} ${outcomes.padEnd(50)} $${s.costUsd.toFixed(4).padEnd(10)} $${s.spentUsd.toFixed(4)} of $${String(s.budgetUsd).padEnd(6)} ${s.budgetStatus}\n`,
        );
      }
      process.stdout.write('\nWhat happened, and why:\n');
      for (const s of summary.tenants) {
        process.stdout.write(`  ${s.tenantId}: ${s.story}\n`);
        for (const [status, why] of Object.entries(s.why)) process.stdout.write(`    ${status}: ${why}\n`);
        const l = s.learning;
        process.stdout.write(
          `    learning ${l.intensity}: shadow comparisons ${l.shadows}, spent $${l.spentUsd.toFixed(6)} of its $${l.budgetUsd.toFixed(4)} learning share${l.preferences.length ? `; now prefers ${l.preferences.join(', ')}` : ''}\n`,
        );
      }
      process.stdout.write('\nWeb UI, filtered by tenant:\n');
      for (const s of summary.tenants) process.stdout.write(`  ${s.tenantId.padEnd(9)} ${s.webUi}\n`);
      process.stdout.write(`\nDashboard (budgets and spend, live): ${summary.dashboardUrl}\n`);
    }

    // The export sweep writes finished runs' artifacts every few seconds; the demo does not wait for its next turn.
    for (const tenantId of new Set(results.map((r) => r.tenantId))) await exportFinished(client, { tenantId });
    if (!json) process.stdout.write(`\nArtifacts (history, summaries, decisions, traces): ${artifactsRoot()}\n`);

    if (!once) {
      say(`\nserver${server ? ', Web UI' : ''}, dashboard and workers stay up; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return summary;
  } finally {
    await dashboard.stop();
    await workers.stop();
    await connection.close();
    await stopCodec?.();
    await client.connection.close();
    await server?.stop();
  }
}

/**
 * The most common reason behind each outcome (the run's own reason, or its DEGRADE decision's),
 * quoted from its latest run with the real figures, and how many runs gave a reason of that shape.
 */
function whyByStatus(results: DeliveryRunResult[]): Record<string, string> {
  const reasons = new Map<string, Map<string, { count: number; example: string }>>();
  for (const r of results) {
    if (r.status === 'COMPLETED') continue;
    const reason = r.reason ?? r.decisions.find((d) => d.action === 'DEGRADE')?.reason ?? 'no reason recorded';
    // Figures differ from run to run; runs are grouped by the shape of their reason.
    const shape = reason.replace(/\$[0-9.]+/g, '$').replace(/[0-9]+(\.[0-9]+)?%/g, '%');
    const byShape = reasons.get(r.status) ?? new Map<string, { count: number; example: string }>();
    const seen = byShape.get(shape) ?? { count: 0, example: reason };
    byShape.set(shape, { count: seen.count + 1, example: reason });
    reasons.set(r.status, byShape);
  }
  return Object.fromEntries(
    [...reasons].map(([status, byShape]) => {
      const { count, example } = [...byShape.values()].sort((a, b) => b.count - a.count)[0]!;
      return [status, count > 1 ? `${example} (and ${count - 1} more like it)` : example];
    }),
  );
}
