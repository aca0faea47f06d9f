import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../../workers/ados-worker';
import { quietRuntime } from '../../testkit/temporal';
import { FIXTURES, FIXTURE_KEYRING, fixtureCodec, openedFixture, storedFixture } from '../../testkit/fixtures';
import { ADOS } from '../../testkit/processes';

const run = promisify(execFile);

/**
 * Histories of earlier releases, each in a folder of its own: runs they recorded may still be open
 * somewhere. Those up to before-codec were recorded with payloads in plain JSON; today's are sealed
 * with the fixtures' key ring.
 */
const RELEASES = [
  '0.1.0',
  'before-prices',
  'before-chains',
  'before-codec',
  'before-worker-launch',
  'before-token-model',
  'before-predicted-alerts',
  'before-admission-blocks',
  'before-release-batches',
  'before-entity-queue',
  'before-short-entity-history',
  // Node results and charges before each execution had its id (a deployment of regions charges per execution).
  'before-execution-id',
  // Entities before they remembered released runs (a late lease request held a finished run's slot again).
  'before-released-runs',
  // Before the scope of a tenant's contribution to the priors (a deployment of regions shares releases across regions).
  'before-priors-scope',
];

/** Today's fixtures (`name`), or every fixture with its release folder (`path`). */
function fixtures({ releases = false } = {}): Array<{ name: string; path: string; history: unknown }> {
  return ['', ...(releases ? RELEASES : [])].flatMap((dir) =>
    readdirSync(join(FIXTURES, dir))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ name: f, path: join(dir, f), history: storedFixture(join(dir, f)) })),
  );
}

quietRuntime();

describe('replay of recorded histories', () => {
  test('every workflow type and variant has a fixture', () => {
    const names = fixtures().map((f) => f.name);
    for (const variant of [
      'completed',
      'degraded',
      'terminated',
      'failed',
      'cancelled',
      'rejected-unknown-tenant',
      'invalid-cycle',
      'waited-for-admission',
      'retried-and-noncritical-failure',
      'explored',
      'learned-model',
      'started-bare',
      'started-bare-waited',
      'foreign-tenant',
      'negotiated-rate',
      'admitted-from-block',
      'rejected-tenant-moved',
    ]) {
      assert.ok(names.includes(`deliveryRun-${variant}.json`), `deliveryRun-${variant}`);
    }
    assert.ok(names.includes('tenantBudget-continued-as-new.json'));
    // Started on another queue (a script of before ados-entities): it moved there by a continue-as-new.
    assert.ok(names.includes('tenantBudget-moved-to-entity-queue.json'));
    // Runs no longer start an exporter, but runs of 0.1.0 still open do: its type keeps its fixture there.
    assert.ok(fixtures({ releases: true }).some((f) => f.path === join('0.1.0', 'exportDeliveryRun-completed.json')));
    assert.ok(names.includes('tenantBudget-period-rollover.json'));
    assert.ok(names.includes('sweepExports-completed.json'));
    assert.ok(names.includes('tenantBudget-after-continue-as-new.json'));
    assert.ok(names.includes('tenantBudget-learning.json'));
    assert.ok(names.includes('shadowExploration-compared.json'));
    assert.ok(names.includes('metaLearning-published.json'));
    assert.ok(names.includes('tenantBudget-alerts.json'));
    assert.ok(names.includes('tenantBudget-admission-blocks.json'));
    // Every message the entity handles crosses some fixture: here a worker's batch of releases.
    assert.ok(
      fixtures().some((f) => JSON.stringify(f.history).includes('"signalName":"releaseRuns"')),
      'a fixture holds a releaseRuns signal',
    );
    assert.ok(names.includes('budgetAlert-sent.json'));
    assert.ok(names.includes('budgetAlert-refused.json'));
    // A deployment of regions: a tenant's entry in the directory.
    assert.ok(names.includes('tenantPlacement-placed.json'));
    // Priors shared with every region: the entity that hands its releases on, and the directory's exchange.
    assert.ok(names.includes('metaLearning-shared.json'));
    assert.ok(names.includes('priorsExchange-released.json'));
    // A tenant that moved to another deployment (ados tenant move-in), its state handed over.
    assert.ok(names.includes('tenantBudget-moved-out.json'));
  });

  // Not ADOS's data, and written by the SDK's core around the codec: search attributes (Temporal indexes
  // them) and the bookkeeping of local-activity and patch markers (activity type, times, patch id).
  const NOT_SEALED = new Set(['indexedFields', 'patch-data', 'data']);

  test('every fixture of today is sealed: each payload but search attributes and marker bookkeeping is encrypted', () => {
    for (const f of fixtures()) {
      const encodings = new Set<string>();
      const visit = (node: unknown, key: string): void => {
        if (Array.isArray(node)) return node.forEach((item) => visit(item, key));
        if (!node || typeof node !== 'object' || NOT_SEALED.has(key)) return;
        const object = node as { metadata?: { encoding?: string } };
        if (object.metadata?.encoding) encodings.add(Buffer.from(object.metadata.encoding, 'base64').toString());
        else for (const [k, v] of Object.entries(object)) visit(v, k);
      };
      visit(f.history, '');
      assert.deepEqual([...encodings], ['binary/encrypted'], f.name);
      // Failure messages and stack traces travel sealed in the failures' encoded attributes; the
      // server writes its own (UnhandledCommand: a workflow task that raced a new event).
      const messages = [...JSON.stringify(f.history).matchAll(/"message":"([^"]*)"/g)].map((m) => m[1]);
      for (const message of messages.filter((m) => m !== 'UnhandledCommand'))
        assert.equal(message, 'Encoded failure', f.name);
    }
  });

  test('each deliveryRun fixture ends the way its name says', async () => {
    const expected: Record<string, string> = {
      completed: 'COMPLETED',
      'waited-for-admission': 'COMPLETED',
      'retried-and-noncritical-failure': 'COMPLETED',
      degraded: 'DEGRADED',
      terminated: 'TERMINATED',
      'rejected-unknown-tenant': 'REJECTED',
      failed: 'workflow failed',
      'invalid-cycle': 'workflow failed',
      cancelled: 'workflow cancelled',
      explored: 'COMPLETED',
      'learned-model': 'COMPLETED',
      'started-bare': 'COMPLETED',
      'started-bare-waited': 'COMPLETED',
      'foreign-tenant': 'workflow failed',
      'negotiated-rate': 'COMPLETED',
    };
    for (const [variant, outcome] of Object.entries(expected)) {
      const { events } = await openedFixture<{
        events: Array<Record<string, { result?: { payloads: Array<{ data: string }> } }>>;
      }>(`deliveryRun-${variant}`);
      const last = events.at(-1)!;
      const actual = last.workflowExecutionCompletedEventAttributes
        ? (
            JSON.parse(
              Buffer.from(
                last.workflowExecutionCompletedEventAttributes.result!.payloads[0]!.data,
                'base64',
              ).toString(),
            ) as { status: string }
          ).status
        : last.workflowExecutionFailedEventAttributes
          ? 'workflow failed'
          : last.workflowExecutionCanceledEventAttributes
            ? 'workflow cancelled'
            : 'unexpected end';
      assert.equal(actual, outcome, `deliveryRun-${variant}`);
    }
  });

  test("every recorded history, today's and earlier releases', replays against the current workflow code without nondeterminism", async () => {
    const all = fixtures({ releases: true });
    // The real workflow id matters: a run derives its export's id from it.
    const workflowIdOf = (history: unknown) =>
      (history as { events: Array<{ workflowExecutionStartedEventAttributes?: { workflowId?: string } }> }).events[0]!
        .workflowExecutionStartedEventAttributes!.workflowId!;
    const results = Worker.runReplayHistories(
      { workflowBundle: await bundleWorkflows(), dataConverter: { payloadCodecs: [fixtureCodec()] } },
      all.map((f) => ({ workflowId: workflowIdOf(f.history), history: f.history })),
    );
    let count = 0;
    for await (const result of results) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
      count++;
    }
    assert.equal(count, all.length);
  });

  test('`ados replay` reports a history that no longer matches the code, with its workflow id, and exits non-zero', async () => {
    const history = storedFixture<{ events: Array<Record<string, { activityType?: { name: string } }>> }>(
      'deliveryRun-completed',
    );
    // The recorded run scheduled retrieval.search first; pretend the code once scheduled something else.
    const scheduled = history.events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'retrieval.search',
    );
    assert.ok(scheduled);
    scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'llm.generate';
    const dir = mkdtempSync(join(tmpdir(), 'ados-replay-'));
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify(history));

    const keyring = ['--keyring', FIXTURE_KEYRING];
    const good = await run(process.execPath, [ADOS, 'replay', ...keyring, join(FIXTURES, 'deliveryRun-failed.json')]);
    assert.match(good.stdout, /^ok\s+delivery-run:fixture:failed/m);
    // Without the key they were sealed with, a sealed history fails naming the key.
    const locked = await run(process.execPath, [ADOS, 'replay', join(FIXTURES, 'deliveryRun-failed.json')], {
      env: { ...process.env, ADOS_KEYRING: JSON.stringify({ active: 'other', keys: { other: 'A'.repeat(43) + '=' } }) },
    }).then(
      () => assert.fail('a sealed history without its key must fail'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(locked.code, 1);
    assert.match(locked.stdout, /key fixtures-1, which is not in the key ring/);

    const bad = await run(process.execPath, [ADOS, 'replay', ...keyring, FIXTURES, join(dir, 'tampered.json')]).then(
      () => assert.fail('a nondeterministic history must fail the command'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^FAIL\s+delivery-run:fixture:completed\s+.*tampered\.json/m);
    assert.match(bad.stdout, /[Nn]ondetermin/);
    assert.equal(
      (bad.stdout.match(/^ok /gm) ?? []).length,
      fixtures({ releases: true }).length,
      'the good fixtures still pass',
    );
  });
});
