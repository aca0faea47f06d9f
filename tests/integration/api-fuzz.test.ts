import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun } from '../../api/client';
import { testApi } from '../../testkit/api';
import { schemathesis } from '../../testkit/schemathesis';
import { useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();
const ADMIN = 'admin-token-for-the-fuzzer-0123456789';

/**
 * Schemathesis against /docs/json, as an outside user would run it: every operation with generated
 * valid and invalid requests, every check (no server error, only documented status codes, content
 * types and headers, responses matching their schemas, invalid data refused, valid data accepted,
 * unsupported methods answered 405). Bounded and seeded, so a run is repeatable.
 */
describe('the HTTP API under an OpenAPI fuzzer (schemathesis)', () => {
  test('finds no server error and no undocumented status code, content type or body', async () => {
    const app = await testApi(env.client, ADMIN, { tokenCacheSeconds: 10 });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      // Something to find: a tenant with a finished run, and a run whose input failed validation.
      await configureTenant(env.client, 'fuzz', { budgetUsd: 1000, maxConcurrentRuns: 50 });
      await runOutcome(
        await startRun(env.client, {
          tenantId: 'fuzz',
          runId: 'done',
          dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 1, costUsd: 0.001 } }] },
        }),
      );
      const st = schemathesis();
      // Asynchronously: the API answers from this very process.
      const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
        execFile(
          st.command,
          [
            '--config-file',
            join(__dirname, '..', 'fixtures', 'schemathesis.toml'),
            'run',
            `${url}/docs/json`,
            '--checks',
            'all',
            '--max-examples',
            '15',
            '--seed',
            '20261128',
            // Repeatable: no examples carried over from earlier runs.
            '--generation-database',
            'none',
            '--phases',
            // Stateful: the OpenAPI links chain a start to the run's GET, cancel and artifacts.
            'examples,coverage,fuzzing,stateful',
            '--header',
            `Authorization: Bearer ${ADMIN}`,
            '--request-timeout',
            '30',
            '--workers',
            '1',
            '--no-color',
          ],
          { encoding: 'utf8', env: st.env, timeout: 480_000, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) =>
            resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
      const output = `${run.stdout}\n${run.stderr}`;
      assert.equal(run.status, 0, output.slice(-12000));
    } finally {
      await app.close();
    }
  });
});
