import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { findTemporalCli } from '../../infra/temporal-cli';
import { tenantStatus } from '../../api/client';
import { planLocalCodecServer } from '../../api/servers/codec-server';
import { logger } from '../../infra/logging/logger';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { showHistory, readablePayloads } from '../../testkit/history';
import { runStartArgs } from '../../testkit/temporal-cli';
import { REPO, docCommands, docText } from '../../testkit/docs';
import type { JsonPayload } from '../../infra/payload-codec';
import { eventually, micros, startTestEnv, type TestEnv } from '../../testkit/temporal';

const run = promisify(execFile);
let env: TestEnv;
let stopWorkers: () => Promise<void>;
let cli: string;
/** Payloads are encrypted: the CLI reads and writes them through a codec server, as docs/TEMPORAL_CLI.md says. */
let cliEnv: NodeJS.ProcessEnv;
let stopCodec: () => Promise<void>;
const dir = mkdtempSync(join(tmpdir(), 'ados-cli-'));

/** Runs the `temporal` CLI against the test server and parses its JSON output. */
async function temporal(...args: string[]): Promise<unknown> {
  const { stdout } = await run(cli, [...args, '--address', env.address, '--output', 'json'], {
    timeout: 60_000,
    env: cliEnv,
  });
  return JSON.parse(stdout);
}

before(async () => {
  env = await startTestEnv();
  stopWorkers = await env.startWorkers();
  cli = findTemporalCli();
  const codec = await planLocalCodecServer(undefined, logger);
  stopCodec = await codec.serve(env.client, 'http://localhost:8233');
  cliEnv = { ...process.env, ...codec.cliEnv };
});

after(async () => {
  await stopCodec?.();
  await stopWorkers?.();
  await env?.teardown();
});

describe('the Temporal CLI as a client', () => {
  test('every command in docs/TEMPORAL_CLI.md runs, in order, and does what the page says', async () => {
    const repo = REPO;
    const commands = docCommands(docText('docs/TEMPORAL_CLI.md'));
    assert.ok(commands.length >= 14, `${commands.length} commands found`);
    // Some commands (cancel) print nothing on success.
    const exec = async (args: string[]) =>
      JSON.parse(
        (
          await run(cli, [...args, '--address', env.address, '--output', 'json'], {
            timeout: 120_000,
            cwd: repo,
            env: cliEnv,
          })
        ).stdout || '{}',
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON output, checked field by field below
      ) as any;
    const seen = new Set<string>();
    for (const args of commands) {
      const line = args.join(' ');
      const out = await exec(args);
      seen.add(args.slice(0, 2).join(' '));
      if (args[1] === 'execute-update-with-start')
        assert.equal(
          out.updateResult?.budgetUsd ?? out.result?.budgetUsd ?? out.updateResult?.result?.budgetUsd,
          100,
          line,
        );
      if (args[1] === 'update' && line.includes('maxConcurrentRuns')) {
        assert.equal(out.result.config.maxConcurrentRuns, 4, line);
        assert.equal(out.result.budgetUsd, 100, 'fields not given are kept');
      }
      if (args[1] === 'query' && line.includes('--name status')) assert.equal(out.queryResult[0].tenantId, 'acme');
      if (args[1] === 'result') assert.equal(out.result.status, 'COMPLETED', line);
      if (args[1] === 'execute') assert.equal(out.result.status, 'DEGRADED', line);
      if (args[1] === 'list' && line.includes('DEGRADED')) {
        // Visibility is eventually consistent: ask again until the run shows.
        const rows = await eventually(
          async () => {
            const r = (await exec(args)) as Array<{ execution: { workflowId: string } }>;
            return r.length > 0 ? r : undefined;
          },
          { what: line },
        );
        assert.deepEqual(
          rows.map((w) => w.execution.workflowId),
          ['delivery-run:acme:r-002'],
        );
      }
      if (args[1] === 'query' && line.includes('r-003')) {
        const progress = await eventually(
          async () => {
            const r = await exec(args);
            return r.queryResult[0].status === 'CANCELLED' ? r.queryResult[0] : undefined;
          },
          { what: 'the cancelled run' },
        );
        // Cancelled while it ran, or skipped if the cancel came before it started.
        assert.ok(['CANCELLED', 'SKIPPED'].includes(progress.nodes.slow.status), progress.nodes.slow.status);
      }
    }
    for (const op of [
      'workflow execute-update-with-start',
      'workflow update',
      'workflow query',
      'workflow start',
      'workflow result',
      'workflow execute',
      'workflow list',
      'workflow cancel',
    ]) {
      assert.ok(seen.has(op), `${op} is on the page and was run`);
    }
    await eventually(
      async () => ((await tenantStatus(env.client, 'acme')).runsInFlight.length === 0 ? true : undefined),
      { what: 'the cancelled run to give its slot back' },
    );
  });

  test('a tenant created and a run started from a JSON file with `temporal` alone completes, costing exactly the sum of its nodes', async () => {
    await temporal(
      'workflow',
      'start',
      '--type',
      'tenantBudget',
      '--task-queue',
      'ados-control',
      '--workflow-id',
      'tenant-budget:clitenant',
      '--input',
      JSON.stringify({ config: { tenantId: 'clitenant', budgetUsd: 5 } }),
    );
    const configured = (await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      'tenant-budget:clitenant',
      '--name',
      'configure',
      '--input',
      JSON.stringify({ maxConcurrentRuns: 4 }),
    )) as { result: { budgetUsd: number; config: { maxConcurrentRuns: number } } };
    assert.equal(configured.result.config.maxConcurrentRuns, 4);
    assert.equal(configured.result.budgetUsd, 5, 'fields not given are kept');
    const runFile = join(dir, 'run.json');
    writeFileSync(
      runFile,
      JSON.stringify({
        tenantId: 'clitenant',
        priority: 2,
        dag: {
          name: 'rag-delivery',
          nodes: [
            {
              id: 'retrieve',
              kind: 'retrieval.search',
              params: { query: 'How does ADOS decide whether a run may start?', top_k: 4 },
            },
            {
              id: 'generate',
              kind: 'llm.generate',
              deps: ['retrieve'],
              params: { model: 'gpt-4o', num_candidates: 3 },
            },
            { id: 'advanced_reranking', kind: 'rerank', deps: ['generate'], critical: false },
            { id: 'evaluate', kind: 'eval.score', deps: ['advanced_reranking'] },
            { id: 'extra', kind: 'util.sleep', params: { ms: 5, costUsd: 0.1 } },
          ],
        },
      }),
    );
    await temporal(
      ...runStartArgs('start', 'delivery-run:clitenant:from-cli', { file: runFile }),
      '--priority-key',
      '2',
      '--fairness-key',
      'clitenant',
      '--static-summary',
      'started with the temporal CLI',
    );
    const outcome = (await temporal('workflow', 'result', '--workflow-id', 'delivery-run:clitenant:from-cli')) as {
      status: string;
      result: DeliveryRunResult;
    };
    assert.equal(outcome.status, 'COMPLETED');
    const result = outcome.result;
    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.runId, 'from-cli', 'the runId comes from the workflow id');
    assert.equal(Object.keys(result.nodes).length, 5);
    const sum = Object.values(result.nodes).reduce((s, n) => s + micros(n.costUsd), 0);
    assert.ok(sum > micros(0.1));
    assert.equal(micros(result.costUsd), sum);
    const tenant = await eventually(async () => {
      const s = await tenantStatus(env.client, 'clitenant');
      return s.chargedEvents === 5 ? s : undefined;
    });
    assert.equal(micros(tenant.spentUsd), sum);

    // Through the codec server the CLI sent the input sealed, too: without it, history is ciphertext.
    const raw = JSON.parse(await showHistory(env.address, 'delivery-run:clitenant:from-cli')) as {
      events: Array<{ workflowExecutionStartedEventAttributes?: { input: { payloads: JsonPayload[] } } }>;
    };
    const input = raw.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!;
    assert.equal(Buffer.from(input.metadata!.encoding!, 'base64').toString(), 'binary/encrypted');
    assert.doesNotMatch(readablePayloads(JSON.stringify(raw)), /How does ADOS decide/);

    const progress = (await temporal(
      'workflow',
      'query',
      '--workflow-id',
      'delivery-run:clitenant:from-cli',
      '--name',
      'progress',
    )) as { queryResult: DeliveryRunResult[] };
    assert.equal(progress.queryResult[0]!.status, 'COMPLETED');

    // Visibility is eventually consistent.
    const listed = await eventually(async () => {
      const rows = (await temporal(
        'workflow',
        'list',
        '--query',
        `TenantId="clitenant" AND DeliveryStatus="COMPLETED"`,
      )) as Array<{ execution: { workflowId: string } }>;
      return rows.length > 0 ? rows : undefined;
    });
    assert.deepEqual(
      listed.map((w) => w.execution.workflowId),
      ['delivery-run:clitenant:from-cli'],
    );
    // Started on ados-control, as scripts written before ados-entities existed do: it moved there itself.
    await eventually(
      async () => {
        const entity = (await temporal('workflow', 'describe', '--workflow-id', 'tenant-budget:clitenant')) as {
          executionConfig: { taskQueue: { name: string } };
        };
        return entity.executionConfig.taskQueue.name === 'ados-entities' ? true : undefined;
      },
      { what: 'the tenant entity started on ados-control to move to ados-entities' },
    );
  });
});
