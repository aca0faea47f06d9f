import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configureTenant, runOutcome, startRun, tenantStatus, UserError } from '../../api/client';
import { abortMoveIn, moveTenantIn } from '../../api/client/move-in';
import { issueTenantToken } from '../../api/http/tokens';
import { eventually, micros, sleepChain, startTestEnv, type TestEnv } from '../../testkit/temporal';

/**
 * A tenant moves from one deployment to another (`ados tenant move-in`), here two dev servers, each
 * with its workers: the old one stands for a single-region deployment, the new one for the
 * namespace of the tenant's placement in a deployment of regions.
 */
const envs: { old?: TestEnv; next?: TestEnv } = {};
const stops: Array<() => Promise<void>> = [];
before(async () => {
  for (const key of ['old', 'next'] as const) {
    const env = await startTestEnv();
    envs[key] = env;
    stops.push(await env.startWorkers(), () => env.teardown());
  }
});
after(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
});

describe('ados tenant move-in', () => {
  test('a tenant moves with its runs in flight: they end where they started, its new runs there are refused, and spend, tokens and settings carry over to the cent', async () => {
    const from = envs.old!.client;
    const to = envs.next!.client;
    await configureTenant(from, 'mover', { budgetUsd: 1, maxConcurrentRuns: 2, backpressureThreshold: 1 });
    const token = await issueTenantToken(from, 'mover');
    const done = await startRun(from, { tenantId: 'mover', runId: 'before', dag: { nodes: sleepChain([0.005], 10) } });
    assert.equal((await runOutcome(done)).status, 'COMPLETED');
    // Two runs in flight (3 s each) and one waiting for their slots when the move begins.
    const held = await Promise.all(
      ['a', 'b', 'c'].map((runId) =>
        startRun(from, { tenantId: 'mover', runId, dag: { nodes: sleepChain([0.01], 3000) } }),
      ),
    );
    // Started at once: which one waits is the entity's order of arrival.
    assert.deepEqual(held.map((h) => h.admission.status).sort(), ['ADMITTED', 'ADMITTED', 'PENDING']);

    const destination = 'namespace default of the new deployment';
    const progress: number[] = [];
    const moving = moveTenantIn(from, to, 'mover', {
      destination,
      timeoutMs: 60_000,
      onProgress: (h) => progress.push(h.holding.runsInFlight + h.holding.runsWaiting),
    });
    // Closed at once: a run started in the old deployment is refused, with where the tenant went.
    await eventually(async () => ((await tenantStatus(from, 'mover')).movedTo === destination ? true : undefined));
    const refused = await startRun(from, { tenantId: 'mover', runId: 'late', dag: { nodes: sleepChain([0.01], 1) } });
    assert.equal(refused.admission.status, 'REJECTED');
    assert.equal(refused.admission.status === 'REJECTED' && refused.admission.code, 'TENANT_MOVED');
    assert.match(
      refused.admission.status === 'REJECTED' ? refused.admission.reason : '',
      /tenant mover moved to namespace default of the new deployment: start its runs there/,
    );

    const moved = await moving;
    // The runs it had accepted, the waiting one included, ended in the old deployment.
    for (const h of held) assert.equal((await runOutcome(h)).status, 'COMPLETED');
    assert.ok(Math.max(...progress) >= 3 && progress.at(-1) === 0, `waited for its runs: ${progress.join(' → ')}`);
    const old = await tenantStatus(from, 'mover');
    assert.equal(micros(old.spentUsd), 35_000, 'every run it admitted, charged there');
    assert.equal(micros(moved.spentUsd), micros(old.spentUsd), 'the same spend, to the micro-dollar');
    assert.equal(moved.periodStart, old.periodStart);
    assert.deepEqual(moved.config, old.config);
    assert.equal(moved.movedTo, undefined);
    assert.deepEqual(
      moved.tokens.map((t) => t.id),
      [token.tokenId],
      'its API tokens work in the new deployment',
    );
    assert.equal(moved.runsInFlight.length, 0);

    // It runs in the new deployment, on the budget it brought; the old one still refuses it.
    const next = await startRun(to, { tenantId: 'mover', runId: 'after', dag: { nodes: sleepChain([0.02], 10) } });
    assert.equal((await runOutcome(next)).status, 'COMPLETED');
    assert.equal(micros((await tenantStatus(to, 'mover')).spentUsd), 55_000);
    const again = await startRun(from, { tenantId: 'mover', runId: 'again', dag: { nodes: sleepChain([0.01], 1) } });
    assert.equal(again.admission.status, 'REJECTED');
    assert.equal(micros((await tenantStatus(from, 'mover')).spentUsd), 35_000);

    // Asked again, the move answers the tenant as it is now; an abort is refused: the move is done.
    assert.equal(micros((await moveTenantIn(from, to, 'mover', { destination })).spentUsd), 55_000);
    await assert.rejects(abortMoveIn(from, to, 'mover'), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /tenant mover has moved into this deployment .* already: there is no move to abort/);
      return true;
    });
  });

  test('a move that outwaits its timeout leaves the tenant closed there; an abort opens it again, and a tenant that does not exist is named', async () => {
    const from = envs.old!.client;
    const to = envs.next!.client;
    await configureTenant(from, 'stayer', { budgetUsd: 1, maxConcurrentRuns: 2, backpressureThreshold: 1 });
    const slow = await startRun(from, { tenantId: 'stayer', runId: 'slow', dag: { nodes: sleepChain([0.01], 4000) } });
    await assert.rejects(
      moveTenantIn(from, to, 'stayer', { destination: 'elsewhere', timeoutMs: 1000 }),
      /tenant stayer in the deployment it moves from \(namespace default\) still holds 1 runs in flight, 0 waiting, 0 admission blocks and 0 shadow runs after 1 s; it admits no new run there/,
    );
    const closed = await startRun(from, { tenantId: 'stayer', runId: 'closed', dag: { nodes: sleepChain([0.01], 1) } });
    assert.equal(closed.admission.status, 'REJECTED');
    const reopened = await abortMoveIn(from, to, 'stayer');
    assert.equal(reopened.movedTo, undefined);
    const open = await startRun(from, { tenantId: 'stayer', runId: 'open', dag: { nodes: sleepChain([0.01], 1) } });
    assert.equal(open.admission.status, 'ADMITTED');
    for (const h of [slow, open]) {
      const outcome = await runOutcome(h);
      assert.equal(outcome.status, 'COMPLETED', JSON.stringify(outcome));
    }
    assert.equal(micros((await tenantStatus(from, 'stayer')).spentUsd), 20_000);
    // Nothing was created in the new deployment.
    await assert.rejects(tenantStatus(to, 'stayer'));

    await assert.rejects(
      moveTenantIn(from, to, 'nobody', { destination: 'elsewhere' }),
      /tenant nobody in the deployment it moves from \(namespace default\) does not exist/,
    );
  });
});
