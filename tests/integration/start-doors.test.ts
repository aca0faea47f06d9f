import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { findTemporalCli } from '../../infra/temporal-cli';
import { configureTenant, connectClient, runOutcome, startRun, tenantStatus } from '../../api/client';
import type { deliveryRun } from '../../workflows';
import { testApi } from '../../testkit/api';
import { planLocalCodecServer } from '../../api/servers/codec-server';
import { logger } from '../../infra/logging/logger';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import { deliveryRunWorkflowId, tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import { ADOS } from '../../testkit/processes';
import { runStartArgs } from '../../testkit/temporal-cli';
import { eventually, micros, startTestEnv, type TestEnv } from '../../testkit/temporal';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'ados-doors-'));
const API_ADMIN = 'admin-token-for-the-doors-test';
let env: TestEnv;
let stopWorkers: () => Promise<void>;
let stopCodec: () => Promise<void>;
/** The Temporal CLI reads and writes payloads through ADOS's codec server, as docs/TEMPORAL_CLI.md says. */
let cliEnv: NodeJS.ProcessEnv;

before(async () => {
  env = await startTestEnv();
  stopWorkers = await env.startWorkers();
  const codec = await planLocalCodecServer(undefined, logger);
  stopCodec = await codec.serve(env.client, 'http://localhost:8233');
  cliEnv = { ...process.env, ...codec.cliEnv, TEMPORAL_ADDRESS: env.address };
});

after(async () => {
  await stopCodec?.();
  await stopWorkers?.();
  await env?.teardown();
});

/** `temporal …` against the test server, its JSON output parsed. */
async function temporal(...args: string[]): Promise<unknown> {
  const { stdout } = await exec(findTemporalCli(), [...args, '--output', 'json'], { env: cliEnv, timeout: 120_000 });
  return JSON.parse(stdout || '{}');
}

/** `ados --json …` as a user runs it, its JSON output parsed. */
async function ados(...args: string[]): Promise<unknown> {
  const { stdout } = await exec(process.execPath, [ADOS, '--json', ...args], { env: cliEnv, timeout: 120_000 });
  return JSON.parse(stdout);
}

function runFile(name: string, input: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(input));
  return file;
}

/**
 * What a tenant's entity was told, across its continue-as-new, read through the Temporal CLI (the
 * codec server decodes it): each admission asked, release and continue-as-new, in order. Shown when
 * an exploration assertion fails, so that a failure in CI says which message took the turn.
 */
async function entityTrail(tenantId: string): Promise<string> {
  // The payloads' JSON is base64 in the CLI's output: the run ids named in a message's payloads.
  const runIds = (v: unknown) =>
    new Set(
      [...JSON.stringify(v ?? '').matchAll(/"data":"([^"]+)"/g)].flatMap((m) =>
        [
          ...Buffer.from(m[1]!, 'base64')
            .toString()
            .matchAll(/"runId":"([^"]+)"/g),
        ].map((id) => id[1]),
      ),
    );
  const workflowId = tenantBudgetWorkflowId(tenantId);
  const runs = (await temporal('workflow', 'list', '--query', `WorkflowId="${workflowId}"`)) as Array<{
    execution: { runId: string };
    startTime: string;
  }>;
  const trail: string[] = [];
  for (const run of runs.sort((a, b) => a.startTime.localeCompare(b.startTime))) {
    const { events } = (await temporal('workflow', 'show', '-w', workflowId, '-r', run.execution.runId)) as {
      events: Array<Record<string, { signalName?: string; acceptedRequest?: unknown; input?: unknown }>>;
    };
    for (const event of events) {
      const signaled = event.workflowExecutionSignaledEventAttributes;
      const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
      if (signaled) trail.push(`${signaled.signalName}(${[...runIds(signaled.input)]})`);
      else if (accepted) {
        const req = accepted.acceptedRequest as { input?: { name?: string } } | undefined;
        trail.push(`update ${req?.input?.name}(${[...runIds(accepted.acceptedRequest)]})`);
      } else if (event.workflowExecutionContinuedAsNewEventAttributes) trail.push('continue-as-new');
    }
  }
  return trail.join(' ');
}

const questions = [
  'How does ADOS decide whether a run may start?',
  'What is a budget lease?',
  'When does the CostAgent degrade a run?',
  'What does the exporter write for each run?',
  'How is a cost counted exactly once?',
  'Which task queue does a node run on?',
];

/** The RAG DAG of examples/rag-run.json, asking one of the questions. */
function rag(tenantId: string, i: number) {
  return {
    tenantId,
    dag: {
      name: 'rag-delivery',
      nodes: [
        { id: 'retrieve', kind: 'retrieval.search', params: { query: questions[i % questions.length], top_k: 4 } },
        { id: 'generate', kind: 'llm.generate', deps: ['retrieve'], params: { model: 'gpt-4o', max_tokens: 120 } },
        { id: 'evaluate', kind: 'eval.score', deps: ['generate'] },
      ],
    },
  };
}

/** Waits until no run and no shadow of the tenant holds money. */
function settled(tenantId: string): Promise<TenantStatus> {
  return eventually(
    async () => {
      const s = await tenantStatus(env.client, tenantId);
      return s.runsInFlight.length === 0 && s.runsWaiting.length === 0 && s.learning.learningReservedUsd === 0
        ? s
        : undefined;
    },
    { what: `${tenantId} to settle`, timeoutMs: 60_000 },
  );
}

/** The problems of a run that failed its validation. */
async function validationProblems(workflowId: string): Promise<string[]> {
  const err = await env.client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, `${workflowId} failed`);
  assert.ok(err.cause instanceof ApplicationFailure);
  assert.equal(err.cause.type, 'InvalidDeliveryInput');
  assert.equal(err.cause.nonRetryable, true);
  return (err.cause.details?.[0] as { problems: string[] }).problems;
}

describe('one run, one contract, whatever starts it', () => {
  test('the same AGGRESSIVE workload started with the Temporal CLI, with `ados run start` and through the HTTP API (admitted from its blocks) explores alike: the same runs explore, at the same cost, within the learning share', async () => {
    // minSamples out of reach: no cheaper model is adopted, so every run of every tenant plans alike.
    const learning = { intensity: 'AGGRESSIVE' as const, minSamples: 1000 };
    const tenants = ['door-temporal', 'door-ados', 'door-api'];
    for (const tenantId of tenants)
      await configureTenant(env.client, tenantId, { budgetUsd: 1, maxConcurrentRuns: 10, learning });
    // The API on a client of its own, as `ados api` is: its starts admit from blocks (the default).
    const apiClient = await connectClient(env.address);
    const app = await testApi(apiClient, API_ADMIN);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const viaTemporal: DeliveryRunResult[] = [];
    const viaAdos: DeliveryRunResult[] = [];
    const viaApi: DeliveryRunResult[] = [];
    const apiBlocks: Array<string | undefined> = [];
    for (let i = 0; i < 6; i++) {
      const started = (await temporal(
        ...runStartArgs('execute', deliveryRunWorkflowId('door-temporal', `r-${i}`), {
          file: runFile(`temporal-${i}`, rag('door-temporal', i)),
        }),
      )) as { result: DeliveryRunResult };
      viaTemporal.push(started.result);
      viaAdos.push(
        (await ados(
          'run',
          'start',
          '--tenant',
          'door-ados',
          '--dag',
          runFile(`ados-${i}`, rag('door-ados', i)),
          '--run-id',
          `r-${i}`,
          '--wait',
        )) as DeliveryRunResult,
      );
      const { dag } = rag('door-api', i);
      const res = await fetch(`${url}/v1/tenants/door-api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ runId: `r-${i}`, dag }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const handle = env.client.workflow.getHandle<typeof deliveryRun>(deliveryRunWorkflowId('door-api', `r-${i}`));
      viaApi.push(await runOutcome(handle));
      apiBlocks.push((await handle.describe()).searchAttributes.AdmissionBlock?.[0] as string | undefined);
    }
    await app.close();
    await apiClient.connection.close();
    assert.ok(
      apiBlocks.every((b) => b !== undefined),
      `every API run admitted from a block: ${JSON.stringify(apiBlocks)}`,
    );
    // Shadows outlive their runs: every one has settled its learning money before the tenants are compared.
    for (const run of [...viaTemporal, ...viaAdos, ...viaApi])
      if (run.learning?.shadow) await env.client.workflow.getHandle(run.learning.shadow.workflowId).result();
    const status = await Promise.all(tenants.map(settled));
    const explored = (runs: DeliveryRunResult[]) => runs.filter((r) => r.learning?.shadow).map((r) => r.runId);
    if (explored(viaTemporal).join() !== 'r-1,r-3,r-5')
      assert.fail(
        `AGGRESSIVE: every second run explores, but ${viaTemporal.map(
          (r) => `${r.runId} explore=${r.learning?.explore} ${r.decisions.map((d) => d.action).join('/')}`,
        )}; the entity was told: ${await entityTrail('door-temporal')}`,
      );
    assert.deepEqual(explored(viaAdos), explored(viaTemporal));
    assert.deepEqual(explored(viaApi), explored(viaTemporal));
    const byTenant = { 'door-temporal': viaTemporal, 'door-ados': viaAdos, 'door-api': viaApi };
    for (let i = 0; i < 6; i++) {
      for (const runs of Object.values(byTenant)) assert.equal(runs[i]!.status, 'COMPLETED');
      assert.equal(micros(viaTemporal[i]!.costUsd), micros(viaAdos[i]!.costUsd), `run ${i} costs the same`);
      assert.equal(micros(viaTemporal[i]!.costUsd), micros(viaApi[i]!.costUsd), `run ${i} costs the same`);
      assert.deepEqual(
        viaApi[i]!.decisions.map((d) => d.action),
        viaTemporal[i]!.decisions.map((d) => d.action),
        `run ${i}: the same CostAgent actions`,
      );
    }
    for (const s of status) {
      assert.ok(s.learning.learningSpentUsd > 0, `${s.tenantId} paid for its shadows`);
      assert.ok(s.learning.learningSpentUsd <= 0.2 * s.budgetUsd, `${s.tenantId} within its 20% share`);
      const runs = byTenant[s.tenantId as keyof typeof byTenant];
      assert.equal(
        micros(s.spentUsd),
        runs.reduce((sum, r) => sum + micros(r.costUsd), 0) + micros(s.learning.learningSpentUsd),
        `${s.tenantId}: spend = runs + learning, exactly`,
      );
      assert.equal(
        s.learning.learningSpentUsd,
        status[0]!.learning.learningSpentUsd,
        `${s.tenantId}: the same learning spend`,
      );
      assert.equal(
        s.reservedUsd,
        0,
        `${s.tenantId}: nothing held once settled; blocks: ${JSON.stringify(s.admissionBlocks)}`,
      );
    }
  });

  test('a run whose workflow id names another tenant than its input fails at once, naming both, and nobody is charged', async () => {
    await configureTenant(env.client, 'owner-a', { budgetUsd: 1 });
    await configureTenant(env.client, 'owner-b', { budgetUsd: 1 });
    const file = runFile('foreign', {
      tenantId: 'owner-b',
      dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 1, costUsd: 0.01 } }] },
    });
    await temporal(...runStartArgs('start', 'delivery-run:owner-a:mm1', { file: file }));
    const [problem] = await validationProblems('delivery-run:owner-a:mm1');
    assert.match(
      problem!,
      /workflow id delivery-run:owner-a:mm1 names tenant owner-a but the input's tenantId is owner-b/,
    );
    assert.match(problem!, /start it as delivery-run:owner-b:mm1/);

    // The runId too: the input's and the id's must agree.
    const withRunId = runFile('other-run', {
      tenantId: 'owner-a',
      runId: 'mm3',
      dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 1, costUsd: 0.01 } }] },
    });
    await temporal(...runStartArgs('start', 'delivery-run:owner-a:mm2', { file: withRunId }));
    assert.match(
      (await validationProblems('delivery-run:owner-a:mm2'))[0]!,
      /names run mm2 but the input's runId is mm3/,
    );

    // And an id that is not a run's at all.
    await temporal(...runStartArgs('start', 'my-run', { file: withRunId }));
    assert.match(
      (await validationProblems('my-run'))[0]!,
      /a run's workflow id is delivery-run:\{tenantId\}:\{runId\} \(here delivery-run:owner-a:mm3\)/,
    );

    for (const tenantId of ['owner-a', 'owner-b']) {
      const s = await tenantStatus(env.client, tenantId);
      assert.equal(s.spentUsd, 0, `${tenantId} charged nothing`);
      assert.equal(s.chargedEvents, 0);
      assert.deepEqual(s.runsInFlight, [], `${tenantId} holds no slot`);
    }
  });

  test('a run that fails validation never holds its slot: with maxConcurrentRuns 1, the valid run started after it begins within 1 s', async () => {
    // Backpressure 1: one run of one allowed is full, not over the threshold, so nothing degrades.
    await configureTenant(env.client, 'one-slot', { budgetUsd: 1, maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const node = { id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.001 } };
    // A kind this starter does not know: the run's worker checks it before it asks for admission.
    const unknownKind = await startRun(env.client, {
      tenantId: 'one-slot',
      runId: 'bad-kind',
      dag: { nodes: [{ ...node, kind: 'no.such' }] },
    });
    assert.equal(unknownKind.admission.status, 'PENDING');
    assert.match((await validationProblems(unknownKind.workflowId))[0]!, /node a has unknown kind no\.such \(known: /);
    // From the Temporal CLI: a DAG with a cycle.
    const cyclic = runFile('cyclic', {
      tenantId: 'one-slot',
      dag: {
        nodes: [
          { ...node, deps: ['b'] },
          { ...node, id: 'b', deps: ['a'] },
        ],
      },
    });
    await temporal(...runStartArgs('start', 'delivery-run:one-slot:cyclic', { file: cyclic }));
    assert.match((await validationProblems('delivery-run:one-slot:cyclic')).join('; '), /cycle: /);

    for (const door of ['client', 'temporal'] as const) {
      const runId = `valid-${door}`;
      const startedAt = Date.now();
      if (door === 'client') await startRun(env.client, { tenantId: 'one-slot', runId, dag: { nodes: [node] } });
      else
        await temporal(
          ...runStartArgs('start', deliveryRunWorkflowId('one-slot', runId), {
            file: runFile(runId, { tenantId: 'one-slot', dag: { nodes: [node] } }),
          }),
        );
      const result = await runOutcome(env.client.workflow.getHandle(deliveryRunWorkflowId('one-slot', runId)));
      assert.equal(result.status, 'COMPLETED');
      const began = Date.parse(result.nodes.a!.startedAt!) - startedAt;
      assert.ok(began < 1000, `${door}: its node started ${began} ms after the start call`);
    }
    assert.equal((await settled('one-slot')).chargedEvents, 2, 'only the valid runs were charged');
  });
});
