import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Webhook } from 'standardwebhooks';
import { exportTenant } from '../../activities/export/exporter';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../../api/client';
import { tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import type { AlertBody } from '../../workflows/domain/alerts/budget-alerts';
import { testApi } from '../../testkit/api';
import { decodeHistoryJson } from '../../infra/payload-codec';
import { readablePayloads } from '../../testkit/history';
import { eventually, freePort, useTestEnvWithWorkers } from '../../testkit/temporal';

// The receiver listens on 127.0.0.1: the worker's delivery activity may call it in this test process.
process.env.ADOS_ALERT_ALLOW_PRIVATE = 'true';

const env = useTestEnvWithWorkers();

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real webhook receiver on a fixed port, which can go down and come back. */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/budget`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  bodies(): AlertBody[] {
    return this.received.map((r) => JSON.parse(r.body) as AlertBody);
  }
}

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** A run that costs `costUsd` though it is estimated at a tenth of a cent (so it is admitted near the budget). */
async function spend(tenantId: string, runId: string, costUsd: number): Promise<void> {
  const result = await runOutcome(
    await startRun(env.client, {
      tenantId,
      runId,
      dag: { nodes: [{ id: 'bill', kind: 'util.sleep', params: { ms: 1, costUsd }, estimatedCostUsd: 0.001 }] },
    }),
  );
  assert.equal(result.status, 'COMPLETED', `${runId}: ${result.reason ?? ''}`);
}

describe('budget alerts', () => {
  test('thresholds 0.5, 0.8 and 1.0 each arrive once per period, signed; the secret is nowhere in plaintext', async () => {
    const receiver = new Receiver(await freePort());
    await receiver.up();
    const key = secret();
    await configureTenant(
      env.client,
      'alerted',
      {
        budgetUsd: 0.1,
        alerts: { webhookUrl: receiver.url, secret: key, thresholds: [0.5, 0.8, 1.0], projectedExhaustion: false },
      },
      { allowPrivate: true },
    );
    await spend('alerted', 'a1', 0.055); // 55%
    await spend('alerted', 'a2', 0.03); // 85%
    await spend('alerted', 'a3', 0.03); // 115%
    // Later changes and messages raise nothing again this period.
    await configureTenant(env.client, 'alerted', { maxConcurrentRuns: 5 }, { allowPrivate: true });
    await eventually(async () => receiver.received.length >= 4, { what: 'four alerts' });
    await new Promise((r) => setTimeout(r, 2000));

    const bodies = receiver.bodies();
    const crossed = bodies.filter((b) => b.type === 'budget.threshold_crossed').map((b) => b.threshold);
    assert.deepEqual(crossed.sort(), [0.5, 0.8, 1], 'each threshold exactly once');
    assert.equal(bodies.filter((b) => b.type === 'budget.exceeded').length, 1);
    assert.equal(bodies.length, 4);
    const half = bodies.find((b) => b.threshold === 0.5)!;
    assert.equal(half.tenantId, 'alerted');
    assert.equal(half.budgetUsd, 0.1);
    assert.equal(half.spentUsd, 0.055);
    assert.equal(half.utilization, 0.55);
    assert.ok(half.periodStart && 'periodEnd' in half && half.at);

    // Any Standard Webhooks library verifies them with the secret; a wrong secret does not.
    const ids = new Set<string>();
    for (const { headers, body } of receiver.received) {
      const signed = {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      };
      assert.deepEqual(new Webhook(key).verify(body, signed), JSON.parse(body));
      assert.throws(() => new Webhook(secret()).verify(body, signed));
      ids.add(signed['webhook-id']);
    }
    assert.equal(ids.size, 4, 'one webhook-id per (tenant, period, type, threshold)');
    assert.ok([...ids].some((id) => id.startsWith('budget.threshold_crossed:alerted:') && id.endsWith(':0.8')));

    // Shown with their delivery; the secret appears in none of history, status, API, artifacts.
    const status = await eventually(async () => {
      const s = await tenantStatus(env.client, 'alerted');
      return s.alerts.length === 4 && s.alerts.every((a) => a.status === 'sent') ? s : undefined;
    });
    assert.ok(status.alerts.every((a) => a.attempts === 1));
    const plain = key.slice('whsec_'.length);
    // Payloads are encrypted and base64 in an exported history: read them opened with the key ring and decoded.
    const history = readablePayloads(
      JSON.stringify(
        await decodeHistoryJson(
          JSON.parse(
            historyToJSON(await env.client.workflow.getHandle(tenantBudgetWorkflowId('alerted')).fetchHistory()),
          ),
        ),
      ),
    );
    assert.ok(history.includes('sealed:v1:'), 'the history holds the sealed secret');
    assert.ok(!history.includes(plain), 'the history never holds the secret');
    assert.ok(!JSON.stringify(status).includes(plain));
    const app = await testApi(env.client, 'admin-token-for-alerts-0123456789', { allowPrivateAlerts: true });
    const shown = await app.inject({
      method: 'GET',
      url: '/v1/tenants/alerted',
      headers: { authorization: 'Bearer admin-token-for-alerts-0123456789' },
    });
    assert.equal(shown.statusCode, 200);
    assert.ok(!shown.body.includes(plain));
    await app.close();
    await exportTenant(env.client, 'alerted', { root: process.env.ADOS_ARTIFACTS_DIR! });
    const file = join(process.env.ADOS_ARTIFACTS_DIR!, 'tenants', 'alerted', 'alerts.jsonl');
    assert.ok(existsSync(file));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => (JSON.parse(l) as { status: string }).status === 'sent'));
    for (const name of ['alerts.jsonl', 'tenant_state.json'])
      assert.ok(
        !readFileSync(join(process.env.ADOS_ARTIFACTS_DIR!, 'tenants', 'alerted', name), 'utf8').includes(plain),
      );
    await receiver.down();
  });

  test('a receiver that is down for 30 s gets its alerts once it is back; meanwhile they show as pending with the error', async () => {
    const receiver = new Receiver(await freePort());
    await configureTenant(
      env.client,
      'alerted-later',
      {
        budgetUsd: 0.1,
        alerts: { webhookUrl: receiver.url, secret: secret(), thresholds: [0.5], projectedExhaustion: false },
      },
      { allowPrivate: true },
    );
    await spend('alerted-later', 'b1', 0.06);
    const downSince = Date.now();
    const pending = await eventually(async () => {
      const s = await tenantStatus(env.client, 'alerted-later');
      const alert = s.alerts[0];
      return alert?.status === 'pending' && alert.lastError ? alert : undefined;
    });
    assert.match(pending.lastError!, /receiver unreachable \(ECONNREFUSED\)/);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downSince))));
    await receiver.up();
    await eventually(async () => receiver.received.length === 1, {
      timeoutMs: 60_000,
      what: 'the alert after downtime',
    });
    assert.equal(receiver.bodies()[0]!.threshold, 0.5);
    const sent = await eventually(async () => {
      const a = (await tenantStatus(env.client, 'alerted-later')).alerts[0];
      return a?.status === 'sent' ? a : undefined;
    });
    assert.ok(sent.attempts! > 1, `delivered on attempt ${sent.attempts}`);
    await receiver.down();
  });

  test('a new period: period_rolled, and the thresholds again under new webhook-ids; a fast burn is projected to exhaust the budget', async () => {
    const receiver = new Receiver(await freePort());
    await receiver.up();
    await configureTenant(
      env.client,
      'alerted-periods',
      {
        budgetUsd: 0.1,
        period: 'daily',
        periodSeconds: 12,
        alerts: { webhookUrl: receiver.url, secret: secret(), thresholds: [0.5], projectedExhaustion: false },
      },
      { allowPrivate: true },
    );
    await spend('alerted-periods', 'c1', 0.06);
    await eventually(async () => receiver.bodies().some((b) => b.type === 'budget.period_rolled'), {
      timeoutMs: 30_000,
      what: 'the period to roll',
    });
    await spend('alerted-periods', 'c2', 0.06);
    await eventually(async () => receiver.bodies().filter((b) => b.type === 'budget.threshold_crossed').length === 2);
    const crossings = receiver.received.filter((r) => JSON.parse(r.body).type === 'budget.threshold_crossed');
    assert.notEqual(crossings[0]!.headers['webhook-id'], crossings[1]!.headers['webhook-id']);
    const rolled = receiver.bodies().find((b) => b.type === 'budget.period_rolled')!;
    assert.equal(rolled.spentUsd, 0.06, 'the ended period’s spend');

    // Exhaustion: 20% spent within a quarter minute of a 10-minute period is on course to use it all up early.
    await configureTenant(
      env.client,
      'alerted-burn',
      {
        budgetUsd: 1,
        period: 'daily',
        periodSeconds: 600,
        alerts: { webhookUrl: receiver.url, secret: secret(), thresholds: [0.9] },
      },
      { allowPrivate: true },
    );
    await spend('alerted-burn', 'd1', 0.1);
    await new Promise((r) => setTimeout(r, 16_000));
    await spend('alerted-burn', 'd2', 0.1);
    const projected = await eventually(async () =>
      receiver.bodies().find((b) => b.tenantId === 'alerted-burn' && b.type === 'budget.exhaustion_projected'),
    );
    assert.ok(projected.projectedExhaustionAt! < (await tenantStatus(env.client, 'alerted-burn')).periodEnd!);
    await receiver.down();
  });

  test('projected exhaustion counts what the runs in flight are predicted to spend: the same slow burn alerts with a big run in flight, not without', async () => {
    const receiver = new Receiver(await freePort());
    await receiver.up();
    // Two tenants burn 1% of $1 in a quarter minute of a 10-minute period: alone, the 98% left lasts
    // past the period's end. One of them has a run in flight predicted to spend $0.90 more.
    for (const tenantId of ['alerted-committed', 'alerted-idle'])
      await configureTenant(
        env.client,
        tenantId,
        {
          budgetUsd: 1,
          period: 'daily',
          periodSeconds: 600,
          alerts: { webhookUrl: receiver.url, secret: secret(), thresholds: [0.95] },
        },
        { allowPrivate: true },
      );
    await Promise.all(['alerted-committed', 'alerted-idle'].map((t) => spend(t, 'e1', 0.005)));
    const big = await startRun(env.client, {
      tenantId: 'alerted-committed',
      runId: 'big',
      dag: {
        nodes: [
          { id: 'wait', kind: 'util.sleep', params: { ms: 25_000, costUsd: 0 } },
          { id: 'bill', kind: 'util.sleep', deps: ['wait'], params: { ms: 1, costUsd: 0.9 } },
        ],
      },
    });
    await new Promise((r) => setTimeout(r, 16_000));
    await Promise.all(['alerted-committed', 'alerted-idle'].map((t) => spend(t, 'e2', 0.005)));
    const projected = await eventually(async () =>
      receiver.bodies().find((b) => b.tenantId === 'alerted-committed' && b.type === 'budget.exhaustion_projected'),
    );
    // The big run's predicted remaining cost (and, if judged as the second bill was admitted, that bill's lease).
    assert.ok(
      projected.committedUsd! >= 0.9 && projected.committedUsd! <= 0.901,
      `committed ${projected.committedUsd}`,
    );
    assert.ok(projected.projectedExhaustionAt! < (await tenantStatus(env.client, 'alerted-committed')).periodEnd!);
    // The idle tenant's entity has charged the same spend and judged it: no projection.
    await eventually(async () => (await tenantStatus(env.client, 'alerted-idle')).spentUsd === 0.01);
    const idle = await tenantStatus(env.client, 'alerted-idle');
    assert.deepEqual(
      idle.alerts.filter((a) => a.body.type === 'budget.exhaustion_projected'),
      [],
      'a slow burn alone lasts past the period’s end',
    );
    assert.equal((await runOutcome(big)).costUsd, 0.9);
    await receiver.down();
  });

  test('webhook targets: private and link-local addresses are refused with a 400 naming the field; so is a non-http URL', async () => {
    const app = await testApi(env.client, 'admin-token-for-alerts-0123456789');
    const headers = { authorization: 'Bearer admin-token-for-alerts-0123456789' };
    for (const webhookUrl of [
      'http://127.0.0.1:9/hook',
      'http://169.254.169.254/latest',
      'http://[::1]/x',
      'http://10.1.2.3/',
    ]) {
      const res = await app.inject({
        method: 'PUT',
        url: '/v1/tenants/alerted-private',
        headers,
        payload: { budgetUsd: 1, alerts: { webhookUrl, secret: secret() } },
      });
      assert.equal(res.statusCode, 400, webhookUrl);
      assert.match(res.json().message, /alerts\.webhookUrl: .*private, loopback or link-local/);
    }
    const ftp = await app.inject({
      method: 'PUT',
      url: '/v1/tenants/alerted-private',
      headers,
      payload: { alerts: { webhookUrl: 'ftp://example.com/x', secret: secret() } },
    });
    assert.equal(ftp.statusCode, 400);
    assert.match(ftp.body, /alerts\.webhookUrl/);
    const weak = await app.inject({
      method: 'PUT',
      url: '/v1/tenants/alerted-private',
      headers,
      payload: { alerts: { webhookUrl: 'https://example.com/x', secret: 'hunter2' } },
    });
    assert.equal(weak.statusCode, 400);
    assert.match(weak.body, /alerts\.secret/);
    assert.doesNotMatch(weak.body, /hunter2/, 'the refused secret is not echoed');
    await assert.rejects(tenantStatus(env.client, 'alerted-private'), /unknown tenant/, 'nothing was created');
    await app.close();
  });
});
