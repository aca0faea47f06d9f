import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { WorkflowFailedError } from '@temporalio/client';
import { UserError, configureTenant, runOutcome } from '../../api/client';
import { buildApi } from '../../api/http/app';
import { createMetrics } from '../../infra/metrics/registry';
import { deliveryRun } from '../../workflows/delivery-run';
import { validateDeliveryRunInput } from '../../workflows/domain/run/dag';
import { CONTROL_TASK_QUEUE, deliveryRunWorkflowId } from '../../workflows/domain/ids';
import { tenantConfigSchema, type TenantConfigPatch } from '../../workflows/domain/tenant/tenant-config';
import { useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();
const KINDS = new Set(['util.sleep', 'util.fail', 'llm.generate', 'retrieval.search', 'rerank', 'eval.score']);

/** Node ids and kinds from small pools with bad ones mixed in, so duplicates, unknown deps and cycles are common. */
const anyId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'A', '../x', '', 'x'.repeat(70));
const anyNode = fc.record(
  {
    id: anyId,
    kind: fc.constantFrom('util.sleep', 'util.sleep', 'no.such', 'BAD kind'),
    deps: fc.array(anyId, { maxLength: 3 }),
    params: fc.constant({ ms: 0 }),
    priority: fc.oneof(fc.integer({ min: -1, max: 7 }), fc.constant('high' as unknown as number)),
    critical: fc.boolean(),
  },
  { requiredKeys: ['id', 'kind'] },
);
const anySpec = fc.record(
  {
    tenantId: fc.constantFrom('fuzz', 'Fuzz', '../t'),
    priority: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(3)),
    maxParallelism: fc.integer({ min: 0, max: 80 }),
    dag: fc.record({ nodes: fc.array(anyNode, { maxLength: 6 }) }),
    extra: fc.constant(1),
  },
  { requiredKeys: ['tenantId', 'dag'] },
);
/** Valid by construction: a DAG over distinct ids whose deps only point backwards. */
const validSpec = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc
    .tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.subarray(
          Array.from({ length: i }, (_, j) => `n${j}`),
          { maxLength: Math.min(2, i) },
        ),
      ),
    )
    .map((depsList) => ({
      tenantId: 'fuzz',
      maxParallelism: 3,
      dag: {
        nodes: depsList.map((deps, i) => ({
          id: `n${i}`,
          kind: 'util.sleep',
          deps,
          params: { ms: 0, costUsd: 0.0001 },
        })),
      },
    })),
);

/** A problem message names what is wrong: a field path, a node, a duplicate, a cycle or a limit. */
const NAMES_THE_FIELD =
  /^(tenantId|runId|priority|maxParallelism|dag|extra|input|node |duplicate node id|cycle:|[a-z]+(\[\d+\])?(\.|:))/;

describe('bad input at scale', () => {
  const counts = { specs: 0, validSpecs: 0, invalidSpecs: 0, configs: 0, apiBodies: 0 };

  test('thousands of DAG specs: every invalid one gets problems naming the field, every valid one passes', () => {
    fc.assert(
      fc.property(fc.oneof(anySpec, validSpec), (spec) => {
        counts.specs++;
        const result = validateDeliveryRunInput(spec, { knownKinds: KINDS });
        if (result.ok) {
          counts.validSpecs++;
          return;
        }
        counts.invalidSpecs++;
        assert.ok(result.problems.length > 0);
        for (const p of result.problems) assert.match(p, NAMES_THE_FIELD, p);
      }),
      { numRuns: 5000 },
    );
    assert.ok(counts.validSpecs > 500 && counts.invalidSpecs > 500, JSON.stringify(counts));
  });

  test('on the server: sampled valid specs always run to COMPLETED; invalid ones fail at once, non-retryably, with no failed workflow task', async () => {
    await configureTenant(env.client, 'fuzz', { budgetUsd: 100, maxConcurrentRuns: 100, backpressureThreshold: 1 });
    const valid = fc.sample(validSpec, { numRuns: 25, seed: 42 });
    const invalid = fc
      .sample(anySpec, { numRuns: 60, seed: 7 })
      .filter((s) => !validateDeliveryRunInput(s, { knownKinds: KINDS }).ok && s.tenantId === 'fuzz')
      .slice(0, 25);
    const start = (spec: unknown, i: number, kind: string) =>
      env.client.workflow.start(deliveryRun, {
        workflowId: deliveryRunWorkflowId('fuzz', `${kind}-${i}`),
        taskQueue: CONTROL_TASK_QUEUE,
        args: [spec as never],
      });
    const validHandles = await Promise.all(valid.map((s, i) => start(s, i, 'valid')));
    const invalidHandles = await Promise.all(invalid.map((s, i) => start(s, i, 'invalid')));
    for (const r of await Promise.all(validHandles.map(runOutcome))) assert.equal(r.status, 'COMPLETED', r.runId);
    for (const h of invalidHandles) {
      const began = Date.now();
      await assert.rejects(
        h.result(),
        (err: unknown) =>
          err instanceof WorkflowFailedError && /invalid deliveryRun input/.test(String(err.cause?.message)),
      );
      assert.ok(Date.now() - began < 10_000);
    }
    for (const h of [...validHandles, ...invalidHandles]) {
      const events = (await h.fetchHistory()).events ?? [];
      assert.equal(
        events.filter((e) => e.workflowTaskFailedEventAttributes).length,
        0,
        `${h.workflowId}: no workflow task failed`,
      );
    }
    assert.ok(invalid.length >= 15, `${invalid.length} invalid specs sampled`);
  });

  test('tenant configs: invalid ones are refused naming the field, before they reach the entity; valid ones are accepted', async () => {
    const anyConfig = fc.record(
      {
        budgetUsd: fc.oneof(fc.double({ min: -10, max: 1e4, noNaN: true }), fc.constant('lots' as unknown as number)),
        maxConcurrentRuns: fc.integer({ min: -2, max: 20_000 }),
        backpressureThreshold: fc.double({ min: -1, max: 2, noNaN: true }),
        period: fc.constantFrom('daily', 'monthly', 'none', 'weekly'),
        thresholds: fc.record({
          warning: fc.double({ min: 0, max: 1.2, noNaN: true }),
          critical: fc.double({ min: 0, max: 1.2, noNaN: true }),
        }),
        learning: fc.record({ intensity: fc.constantFrom('CONSERVATIVE', 'BALANCED', 'AGGRESSIVE', 'MAXIMUM') }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(anyConfig, (config) => {
        counts.configs++;
        const parsed = tenantConfigSchema.safeParse({ tenantId: 'fuzz', ...config });
        if (!parsed.success)
          for (const issue of parsed.error.issues)
            assert.ok(issue.path.length > 0 || /warning must be below critical/.test(issue.message));
      }),
      { numRuns: 2000 },
    );
    for (const [i, config] of fc.sample(anyConfig, { numRuns: 12, seed: 3 }).entries()) {
      const valid = tenantConfigSchema.safeParse({ tenantId: `cfg-${i}`, ...config });
      if (valid.success) {
        assert.equal((await configureTenant(env.client, `cfg-${i}`, config as TenantConfigPatch)).tenantId, `cfg-${i}`);
      } else {
        await assert.rejects(
          configureTenant(env.client, `cfg-${i}`, config as TenantConfigPatch),
          (err: unknown) =>
            err instanceof UserError && err.code === 'INVALID_INPUT' && /invalid tenant config: \w/.test(err.message),
        );
      }
    }
  });

  test('API bodies: hundreds of random run bodies get 202 or a 400 that says why, never a 500', async () => {
    const app = await buildApi({
      client: env.client,
      config: {
        ADOS_ADMIN_TOKEN: 'fuzz-admin-token-0123456789',
        ADOS_API_RATE_LIMIT: 100_000,
        ADOS_API_BODY_LIMIT: 65536,
        ADOS_API_TOKEN_CACHE_SECONDS: 0,
        ADOS_ARTIFACTS_DIR: process.env.ADOS_ARTIFACTS_DIR!,
      },
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const bodies = [
        ...fc.sample(
          fc.oneof(
            anySpec.map(({ tenantId: _t, ...rest }) => rest),
            validSpec.map(({ tenantId: _t, ...rest }) => rest),
            fc.jsonValue(),
          ),
          { numRuns: 300, seed: 11 },
        ),
      ];
      const statuses: Record<number, number> = {};
      for (const [i, body] of bodies.entries()) {
        counts.apiBodies++;
        const withId =
          body && typeof body === 'object' && !Array.isArray(body) ? { ...body, runId: `api-fuzz-${i}` } : body;
        const response = await fetch(`${url}/v1/tenants/fuzz/runs`, {
          method: 'POST',
          headers: { authorization: 'Bearer fuzz-admin-token-0123456789', 'content-type': 'application/json' },
          body: JSON.stringify(withId),
        });
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const answer = (await response.json()) as { error?: string; message?: string };
        assert.ok([202, 400].includes(response.status), `body ${i}: ${response.status} ${JSON.stringify(answer)}`);
        if (response.status === 400)
          assert.ok(answer.error === 'INVALID_INPUT' && answer.message && answer.message.length > 10);
      }
      assert.ok((statuses[400] ?? 0) > 100, JSON.stringify(statuses));
      process.stdout.write(`# fuzz counts: ${JSON.stringify({ ...counts, apiStatuses: statuses })}\n`);
    } finally {
      await app.close();
    }
  });
});
