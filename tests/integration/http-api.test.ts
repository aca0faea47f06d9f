import assert from 'node:assert/strict';
import { describe, test, before, after } from 'node:test';
import pino from 'pino';
import { buildApi } from '../../api/http/app';
import { createMetrics } from '../../infra/metrics/registry';
import { eventually, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();
const ADMIN = 'admin-token-for-tests-0123456789';

interface Api {
  url: string;
  close(): Promise<void>;
}

async function serveApi(overrides: { rateLimit?: number } = {}): Promise<Api> {
  const app = await buildApi({
    client: env.client,
    config: {
      ADOS_ADMIN_TOKEN: ADMIN,
      ADOS_API_RATE_LIMIT: overrides.rateLimit ?? 10_000,
      ADOS_API_BODY_LIMIT: 64 * 1024,
      // Checked on every request here, so a revoked token fails at once.
      ADOS_API_TOKEN_CACHE_SECONDS: 0,
      ADOS_ARTIFACTS_DIR: process.env.ADOS_ARTIFACTS_DIR!,
    },
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

let api: Api;

async function call(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are arbitrary JSON, checked field by field below
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics, trace.jsonl)
  }
  return { status: response.status, body: parsed };
}

const sleepDag = { nodes: [{ id: 'work', kind: 'util.sleep', params: { ms: 10, costUsd: 0.01 } }] };

describe('HTTP API', () => {
  before(async () => {
    api = await serveApi();
  });
  after(async () => api?.close());
  let acmeToken = '';
  let acmeTokenId = '';

  test('the admin creates tenants and issues a token, shown once and stored only as a hash', async () => {
    assert.equal((await call('PUT', '/v1/tenants/acme', ADMIN, { budgetUsd: 10, maxConcurrentRuns: 5 })).status, 200);
    const other = await call('PUT', '/v1/tenants/other', ADMIN, { budgetUsd: 10 });
    assert.equal(other.status, 200);
    assert.equal(other.body.budgetUsd, 10);
    const issued = await call('POST', '/v1/tenants/acme/tokens', ADMIN);
    assert.equal(issued.status, 201);
    assert.match(issued.body.token, /^ados\.acme\.[A-Za-z0-9_-]{43}$/);
    acmeToken = issued.body.token;
    acmeTokenId = issued.body.tokenId;
    const status = await call('GET', '/v1/tenants/acme', ADMIN);
    assert.deepEqual(
      status.body.tokens.map((t: { id: string }) => t.id),
      [acmeTokenId],
    );
    assert.ok(!JSON.stringify(status.body).includes(acmeToken.split('.')[2]!), 'the secret is nowhere in the status');
  });

  test('no token or a wrong token gets 401', async () => {
    assert.deepEqual((await call('GET', '/v1/tenants/acme')).status, 401);
    assert.equal(
      (await call('GET', '/v1/tenants/acme', 'ados.acme.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status,
      401,
    );
    const garbage = await call('GET', '/v1/tenants/acme', 'not-a-token');
    assert.equal(garbage.status, 401);
    assert.deepEqual(Object.keys(garbage.body).sort(), ['error', 'message']);
    assert.equal(garbage.body.error, 'UNAUTHORIZED');
  });

  test('a tenant token starts and reads its own runs, lists them from visibility and reads their artifacts', async () => {
    const started = await call('POST', '/v1/tenants/acme/runs', acmeToken, { runId: 'api-1', dag: sleepDag });
    assert.equal(started.status, 202);
    assert.deepEqual(started.body, { runId: 'api-1', workflowId: 'delivery-run:acme:api-1', status: 'RUNNING' });
    const done = await eventually(
      async () => {
        const r = await call('GET', '/v1/tenants/acme/runs/api-1', acmeToken);
        return r.body.status === 'COMPLETED' ? r : undefined;
      },
      { what: 'the run to complete' },
    );
    assert.equal(done.body.costUsd, 0.01);
    assert.equal((await call('GET', '/v1/tenants/acme', acmeToken)).status, 200);
    const listed = await eventually(
      async () => {
        const r = await call('GET', '/v1/tenants/acme/runs?status=COMPLETED&pageSize=10', acmeToken);
        return r.body.runs?.some((x: { runId: string }) => x.runId === 'api-1') ? r : undefined;
      },
      { what: 'the run in visibility' },
    );
    assert.equal(listed.body.runs[0].status, 'COMPLETED');
    const summary = await eventually(
      async () => {
        const r = await call('GET', '/v1/tenants/acme/runs/api-1/artifacts/summary.json', acmeToken);
        return r.status === 200 ? r : undefined;
      },
      { what: 'the exported summary' },
    );
    assert.equal(summary.body.runId, 'api-1');

    // Paging: two more runs, one per page.
    for (const runId of ['api-2', 'api-3'])
      assert.equal((await call('POST', '/v1/tenants/acme/runs', acmeToken, { runId, dag: sleepDag })).status, 202);
    // Visibility orders open runs first, so page through once all three have closed.
    await eventually(
      async () =>
        (await call('GET', '/v1/tenants/acme/runs?pageSize=100', acmeToken)).body.runs.filter(
          (r: { closedAt: string | null }) => r.closedAt,
        ).length === 3
          ? true
          : undefined,
      { what: 'three closed runs listed' },
    );
    const first = await call('GET', '/v1/tenants/acme/runs?pageSize=2', acmeToken);
    assert.equal(first.body.runs.length, 2);
    const second = await call(
      'GET',
      `/v1/tenants/acme/runs?pageSize=2&pageToken=${first.body.nextPageToken}`,
      acmeToken,
    );
    assert.equal(second.body.runs.length, 1);
    assert.equal(new Set([...first.body.runs, ...second.body.runs].map((r: { runId: string }) => r.runId)).size, 3);
  });

  test("the same token gets 404 for another tenant's tenant, runs and artifacts, and 403 for admin routes", async () => {
    await call('POST', '/v1/tenants/other/runs', ADMIN, { runId: 'theirs', dag: sleepDag });
    for (const [method, path] of [
      ['GET', '/v1/tenants/other'],
      ['GET', '/v1/tenants/other/runs'],
      ['GET', '/v1/tenants/other/runs/theirs'],
      ['POST', '/v1/tenants/other/runs/theirs/cancel'],
      ['GET', '/v1/tenants/other/runs/theirs/artifacts/summary.json'],
      ['GET', '/v1/tenants/nobody'],
    ] as const) {
      const r = await call(method, path, acmeToken, method === 'POST' ? {} : undefined);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error, 'NOT_FOUND');
    }
    assert.equal((await call('POST', '/v1/tenants/other/runs', acmeToken, { dag: sleepDag })).status, 404);
    assert.equal((await call('PUT', '/v1/tenants/acme', acmeToken, { budgetUsd: 1000 })).status, 403);
    assert.equal((await call('POST', '/v1/tenants/acme/tokens', acmeToken)).status, 403);
  });

  test('a cyclic DAG gets 400 naming the cycle; a path-like id gets 400; a schema error names the field', async () => {
    const cyclic = await call('POST', '/v1/tenants/acme/runs', acmeToken, {
      dag: {
        nodes: [
          { id: 'a', kind: 'util.sleep', deps: ['b'] },
          { id: 'b', kind: 'util.sleep', deps: ['a'] },
        ],
      },
    });
    assert.equal(cyclic.status, 400);
    assert.equal(cyclic.body.error, 'INVALID_INPUT');
    assert.ok(
      cyclic.body.issues.some((i: string) => /cycle: a -> b -> a|cycle: b -> a -> b/.test(i)),
      JSON.stringify(cyclic.body),
    );
    for (const path of [
      '/v1/tenants/..%2Fx',
      '/v1/tenants/acme/runs/..%2Fx',
      '/v1/tenants/acme/runs/api-1/artifacts/..%2F..%2Fsecret.json',
    ]) {
      const r = await call('GET', path, ADMIN);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error, 'INVALID_INPUT');
    }
    const bad = await call('POST', '/v1/tenants/acme/runs', acmeToken, { priority: 9, dag: sleepDag });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /priority/);
    const notJson = await call('POST', '/v1/tenants/acme/runs', acmeToken, '{"dag":');
    assert.equal(notJson.status, 400);
  });

  test('a runId already used gets 409; a body over the limit gets 413; an EXCEEDED tenant gets 429', async () => {
    assert.equal(
      (await call('POST', '/v1/tenants/acme/runs', acmeToken, { runId: 'api-1', dag: sleepDag })).status,
      409,
    );
    const huge = await call('POST', '/v1/tenants/acme/runs', acmeToken, {
      dag: { name: 'x'.repeat(70 * 1024), nodes: [] },
    });
    assert.equal(huge.status, 413);
    await call('PUT', '/v1/tenants/broke', ADMIN, { budgetUsd: 0.01 });
    await eventually(async () =>
      (await call('POST', '/v1/tenants/broke/runs', ADMIN, { dag: sleepDag })).status === 202 ? true : undefined,
    );
    await eventually(
      async () => ((await call('GET', '/v1/tenants/broke', ADMIN)).body.budgetStatus === 'EXCEEDED' ? true : undefined),
      { what: 'broke to be EXCEEDED' },
    );
    const refused = await call('POST', '/v1/tenants/broke/runs', ADMIN, { dag: sleepDag });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, 'BUDGET_EXCEEDED');
    // The same answer every door gets: the run is recorded, REJECTED, with the tenant's reason.
    assert.match(refused.body.message, /^budget exceeded: spent \$/);
    const rejected = await call('GET', `/v1/tenants/broke/runs/${refused.body.runId}`, ADMIN);
    assert.equal(rejected.body.status, 'REJECTED');
    assert.equal(rejected.body.reason, refused.body.message);
  });

  test('a revoked token gets 401 from then on', async () => {
    assert.equal((await call('DELETE', `/v1/tenants/acme/tokens/${acmeTokenId}`, ADMIN)).status, 200);
    assert.equal((await call('GET', '/v1/tenants/acme', acmeToken)).status, 401);
  });

  test('rate limiting answers 429 per token once the limit is used up', async () => {
    const limited = await serveApi({ rateLimit: 3 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (await fetch(`${limited.url}/v1/tenants/acme`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
        );
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const other = await fetch(`${limited.url}/v1/tenants/acme`, {
        headers: { authorization: 'Bearer someone-else' },
      });
      assert.equal(other.status, 401, 'another caller has its own allowance');
    } finally {
      await limited.close();
    }
  });

  test('OpenAPI at /docs, Prometheus at /metrics, liveness at /healthz', async () => {
    const spec = await call('GET', '/docs/json');
    assert.equal(spec.status, 200);
    assert.ok(
      spec.body.paths['/v1/tenants/{tenantId}/runs'].post.requestBody,
      'the run body is documented from its zod schema',
    );
    assert.ok(spec.body.paths['/v1/tenants/{tenantId}'].put);
    assert.equal((await call('GET', '/healthz')).body.status, 'ok');
    const metrics = await call('GET', '/metrics');
    assert.match(
      metrics.body,
      /ados_http_requests_total\{method="POST",route="\/v1\/tenants\/:tenantId\/runs",status="202"\} \d+/,
    );
  });

  test("page tokens: one of ours pages on; a foreign or another listing's token is a 400 at once", async () => {
    for (let i = 0; i < 3; i++)
      await call('POST', '/v1/tenants/other/runs', ADMIN, { runId: `page-${i}`, dag: sleepDag });
    const first = await call('GET', '/v1/tenants/other/runs?pageSize=2', ADMIN);
    assert.equal(first.status, 200);
    assert.equal(first.body.runs.length, 2);
    assert.match(first.body.nextPageToken, /^v1\./);
    const second = await call('GET', `/v1/tenants/other/runs?pageSize=2&pageToken=${first.body.nextPageToken}`, ADMIN);
    assert.equal(second.status, 200);
    assert.ok(second.body.runs.length >= 1);
    const started = Date.now();
    const foreign = await call('GET', '/v1/tenants/other/runs?pageToken=abc', ADMIN);
    assert.equal(foreign.status, 400);
    assert.match(foreign.body.message, /invalid pageToken/);
    const filtered = await call(
      'GET',
      `/v1/tenants/other/runs?pageSize=2&status=COMPLETED&pageToken=${first.body.nextPageToken}`,
      ADMIN,
    );
    assert.equal(filtered.status, 400);
    assert.match(filtered.body.message, /another listing/);
    assert.ok(Date.now() - started < 2000, 'answered at once');
  });

  test('GET of a run whose input failed validation returns the run: FAILED, with its reason', async () => {
    await env.client.workflow.start('deliveryRun', {
      workflowId: 'delivery-run:other:bad-input',
      taskQueue: 'ados-control',
      args: [{ tenantId: 'other', runId: 'bad-input', dag: { nodes: [{ id: 'a', kind: 'no.such.kind' }] } }],
    });
    const run = await eventually(async () => {
      const r = await call('GET', '/v1/tenants/other/runs/bad-input', ADMIN);
      return r.body.status === 'FAILED' ? r : undefined;
    });
    assert.equal(run.status, 200);
    assert.match(run.body.reason, /no\.such\.kind/);
  });

  test('an empty JSON body where none is needed is accepted; methods a path does not serve get 405 with Allow', async () => {
    const response = await fetch(`${api.url}/v1/tenants/other/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    });
    assert.equal(response.status, 201);
    const wrong = await fetch(`${api.url}/v1/tenants/other/tokens`, {
      method: 'GET',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    const query = await fetch(`${api.url}/v1/tenants/other/runs/x`, {
      method: 'QUERY',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(query.status, 405);
  });

  test('the OpenAPI document has a schema for every 2xx body', async () => {
    const doc = (await call('GET', '/docs/json')).body as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
      >;
    };
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const [status, response] of Object.entries(op.responses))
          if (status.startsWith('2')) {
            const schemas = Object.values(response.content ?? {}).map((c) => c.schema);
            assert.ok(
              schemas.length && schemas.every(Boolean),
              `${method.toUpperCase()} ${path} ${status} has a schema`,
            );
            checked++;
          }
    assert.ok(checked >= 9, `${checked} success bodies`);
  });

  test('the OpenAPI document states the rules a schema can: URL and secret patterns, lengths, unique thresholds, property counts; and links a start to its run', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document, read field by field below
    const doc = (await call('GET', '/docs/json')).body as any;
    const put = doc.paths['/v1/tenants/{tenantId}'].put;
    const body = put.requestBody.content['application/json'].schema;
    const alerts = (body.properties.alerts.anyOf ?? [body.properties.alerts]).find(
      (s: { type?: string }) => s.type === 'object',
    );
    assert.equal(alerts.properties.webhookUrl.pattern, '^https?:\\/\\/[^\\s/?#]+\\S*$');
    assert.equal(alerts.properties.secret.pattern, '^whsec_[A-Za-z0-9+/]{32,86}={0,2}$');
    assert.deepEqual([alerts.properties.secret.minLength, alerts.properties.secret.maxLength], [38, 94]);
    assert.equal(alerts.properties.thresholds.uniqueItems, true);
    assert.equal(body.properties.negotiatedRates.maxProperties, 50);
    assert.match(put.description, /warning must be below thresholds\.critical/);

    const start = doc.paths['/v1/tenants/{tenantId}/runs'].post;
    const run = start.requestBody.content['application/json'].schema;
    assert.equal(run.properties.tags.maxProperties, 10);
    assert.match(run.properties.tags.description, /keys matching \^\[a-z\]\[a-z0-9_\.-\]\{0,31\}\$/);
    assert.equal(run.properties.dag.properties.nodes.items.properties.deps.items.pattern, '^[a-z0-9][a-z0-9_-]{0,62}$');
    const links = start.responses['202'].links;
    assert.deepEqual(
      Object.values(links).map((l) => (l as { operationId: string }).operationId),
      ['getRun', 'cancelRun', 'getArtifact'],
    );
    assert.equal(links.GetRun.parameters.runId, '$response.body#/runId');
    assert.match(doc.paths['/v1/tenants/{tenantId}/reports'].get.description, /`from` must be before `to`/);
  });
});
