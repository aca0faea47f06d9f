import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ADOS, stopChild } from '../../testkit/processes';
import { REPO } from '../../testkit/docs';
import { eventually, freePort, startTestEnv, type TestEnv } from '../../testkit/temporal';

const exec = promisify(execFile);

// Every secret of a session, each unlike anything else in it.
const ADMIN = `admin-${randomBytes(18).toString('hex')}`;
const ALERT_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const RING_KEY = randomBytes(32).toString('base64');
const RING = JSON.stringify({ active: 'logs-1', keys: { 'logs-1': RING_KEY } });

let env: TestEnv;
const logs = new Map<string, string[]>();
const stdouts = new Map<string, string[]>();
const children: ChildProcess[] = [];
/** Everything each process wrote, stdout and stderr (their pino logs go to stderr), at debug level. */
function capture(name: string, child: ChildProcess): ChildProcess {
  const out: string[] = [];
  const stdout: string[] = [];
  logs.set(name, out);
  stdouts.set(name, stdout);
  child.stdout?.on('data', (d: Buffer) => (out.push(d.toString()), stdout.push(d.toString())));
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
  children.push(child);
  return child;
}

let processEnv: NodeJS.ProcessEnv;
function spawnAdos(name: string, args: string[]): ChildProcess {
  return capture(
    name,
    spawn(process.execPath, [ADOS, ...args], { env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

/** A one-shot `ados` command; what it printed is kept as its log, except the token it exists to show. */
async function ados(name: string, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await exec(process.execPath, [ADOS, '--json', ...args], { env: processEnv });
  logs.set(name, [stderr]);
  return stdout;
}

/** Waits for a server's `--json` address on its stdout. */
async function listening(name: string): Promise<string> {
  return eventually(async () => (JSON.parse(stdouts.get(name)!.join('')) as { url: string }).url, {
    what: `${name} to listen`,
    timeoutMs: 60_000,
  });
}

before(async () => {
  env = await startTestEnv();
  processEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: env.address,
    ADOS_LOG_LEVEL: 'debug',
    ADOS_ADMIN_TOKEN: ADMIN,
    ADOS_KEYRING: RING,
    ADOS_PAYLOAD_CODEC: 'aes',
    ADOS_ALERT_ALLOW_PRIVATE: 'true',
    ADOS_ARTIFACTS_DIR: mkdtempSync(join(tmpdir(), 'ados-logs-')),
  };
});

after(async () => {
  for (const child of children) await stopChild(child);
  await env?.teardown();
});

describe('no secret in any log', () => {
  test('a session that uses every secret (admin and tenant tokens by header, path and query, an alert secret, the key ring) leaves none in any process’s output, raw or base64', async () => {
    // A receiver for the tenant's signed alerts.
    const received: Array<{ headers: Record<string, string>; body: string }> = [];
    const port = await freePort();
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string>, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));

    const tenantTokens: string[] = [];
    try {
      spawnAdos('worker', ['worker']);
      spawnAdos('api', ['--json', 'api', '--port', String(await freePort())]);
      spawnAdos('codec-server', ['--json', 'codec-server', '--port', String(await freePort())]);
      const api = await listening('api');
      const codec = await listening('codec-server');

      // The CLI: a tenant with signed alerts, the secret on the command line.
      await ados(
        'cli tenant set',
        'tenant',
        'set',
        'sec',
        '--budget-usd',
        '0.002',
        '--alert-url',
        `http://127.0.0.1:${port}/hook`,
        '--alert-secret',
        ALERT_SECRET,
        '--alert-thresholds',
        '0.5',
      );
      // A tenant token from the CLI (printed once, by design: its stdout is not a log), and one from the API.
      const cliToken = (JSON.parse(await ados('cli tenant token', 'tenant', 'token', 'sec')) as { token: string })
        .token;
      const call = async (method: string, path: string, token?: string, body?: unknown) => {
        const res = await fetch(`${api}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
      };
      const issued = await call('POST', '/v1/tenants/sec/tokens', ADMIN);
      assert.equal(issued.status, 201);
      const apiToken = issued.body.token as string;
      tenantTokens.push(apiToken, cliToken);
      assert.equal((await call('GET', '/v1/tenants/sec', apiToken)).status, 200);
      assert.equal((await call('GET', '/v1/tenants/sec', cliToken)).status, 200);
      // A token in the query string is not how the API takes one; the attempt still must not land in a log.
      assert.equal((await call('GET', `/v1/tenants/sec?access_token=${apiToken}&token=${ADMIN}`)).status, 401);
      assert.equal((await call('GET', '/v1/tenants/sec', `${apiToken}x`)).status, 401);
      const started = await call('POST', '/v1/tenants/sec/runs', apiToken, {
        runId: 'spend',
        dag: { nodes: [{ id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.0015 } }] },
      });
      assert.equal(started.status, 202);
      await eventually(
        async () =>
          (await call('GET', '/v1/tenants/sec/runs/spend', apiToken)).body.status === 'COMPLETED' ? true : undefined,
        { what: 'the run' },
      );

      // The codec server: the admin and tenant tokens by header and in the path, and a wrong one.
      const decode = (path: string, token?: string) =>
        fetch(`${codec}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ payloads: [] }),
        }).then((r) => r.status);
      assert.equal(await decode(`/t/${ADMIN}/decode`), 200);
      assert.equal(await decode(`/t/${apiToken}/decode`), 200);
      assert.equal(await decode('/decode', ADMIN), 200);
      assert.equal(await decode('/decode', cliToken), 200);
      assert.equal(await decode(`/t/${ADMIN}x/decode`), 401);
      assert.equal(await decode(`/decode?access_token=${apiToken}`), 401);

      // The alert went out signed with the secret: the secret was used, by the worker.
      const alert = await eventually(async () => received[0], { what: 'the alert', timeoutMs: 60_000 });
      new Webhook(ALERT_SECRET).verify(alert.body, alert.headers);
    } finally {
      receiver.close();
    }

    // The demo too, with the same admin token and key ring, on the same server.
    const demo = await exec(process.execPath, [ADOS, 'demo', '--once', '--runs', '6'], {
      env: processEnv,
      cwd: REPO,
      timeout: 300_000,
    });
    logs.set('demo', [demo.stderr]);
    for (const child of children) await stopChild(child);

    const secrets: Record<string, string> = {
      'admin token': ADMIN,
      'tenant token from the API': tenantTokens[0]!,
      'tenant token from the CLI': tenantTokens[1]!,
      "a tenant token's secret part": tenantTokens[0]!.split('.').at(-1)!,
      'alert secret': ALERT_SECRET,
      'alert secret (its key)': ALERT_SECRET.slice('whsec_'.length),
      'key ring key': RING_KEY,
      'key ring': RING,
    };
    const forms = (value: string) => [
      value,
      Buffer.from(value).toString('base64'),
      Buffer.from(value).toString('base64url'),
    ];
    const lines = [...logs.values()].reduce((n, chunks) => n + chunks.join('').split('\n').length, 0);
    assert.ok(lines > 100, `${lines} log lines were written (debug level), so the search means something`);
    for (const [process, chunks] of logs) {
      const text = chunks.join('');
      for (const [what, value] of Object.entries(secrets))
        for (const form of forms(value)) assert.ok(!text.includes(form), `${what} in the output of ${process}`);
    }
  });
});
