import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runArtifacts, type JsonHistory } from '../../activities/export/run-artifacts';
import { openedFixture } from '../../testkit/fixtures';

// The exporter builds artifacts from a history opened with the key ring, as these are.
const fixture = (name: string) => openedFixture<JsonHistory>(name);
const parse = (files: Map<string, string>, name: string) => JSON.parse(files.get(name)!);

describe('run artifacts from a recorded history', () => {
  test('every outcome yields a summary with the run status', async () => {
    const expected: Record<string, [string, string]> = {
      'deliveryRun-completed': ['COMPLETED', 'COMPLETED'],
      'deliveryRun-degraded': ['DEGRADED', 'COMPLETED'],
      'deliveryRun-terminated': ['TERMINATED', 'COMPLETED'],
      'deliveryRun-failed': ['FAILED', 'FAILED'],
      'deliveryRun-cancelled': ['CANCELLED', 'CANCELED'],
      'deliveryRun-rejected-unknown-tenant': ['REJECTED', 'COMPLETED'],
      'deliveryRun-invalid-cycle': ['INVALID', 'FAILED'],
    };
    for (const [name, [status, workflowStatus]] of Object.entries(expected)) {
      const summary = parse(runArtifacts(await fixture(name)), 'summary.json');
      assert.equal(summary.status, status, name);
      assert.equal(summary.workflowStatus, workflowStatus, name);
    }
  });

  test('a task result per node, with output, usage, attempts and timings', async () => {
    const files = runArtifacts(await fixture('deliveryRun-completed'));
    const generate = parse(files, 'task_result_generate.json');
    assert.equal(generate.kind, 'llm.generate');
    assert.ok(generate.usage.inputTokens > 0);
    // The activity's own timestamps, as the history recorded them.
    const { scheduledAt, startedAt, closedAt, queueMs, runMs } = generate.timings;
    assert.equal(runMs, Date.parse(closedAt) - Date.parse(startedAt));
    assert.equal(queueMs, Date.parse(startedAt) - Date.parse(scheduledAt));
    assert.ok(runMs > 0, 'the generate node took time');
    assert.deepEqual([...files.keys()].filter((f) => f.startsWith('task_result_')).sort(), [
      'task_result_advanced_reranking.json',
      'task_result_evaluate.json',
      'task_result_generate.json',
      'task_result_retrieve.json',
    ]);
  });

  test('a retried node shows its attempts; a degraded run its plan', async () => {
    assert.equal(
      parse(runArtifacts(await fixture('deliveryRun-retried-and-noncritical-failure')), 'task_result_flaky.json')
        .attempts,
      2,
    );
    const decisions = parse(runArtifacts(await fixture('deliveryRun-degraded')), 'cost_decision.json').decisions;
    assert.deepEqual(decisions[0].plan.skipped, ['optional']);
  });

  test('failure messages, sealed in history, are in the artifacts as the run wrote them', async () => {
    const failed = [...runArtifacts(await fixture('deliveryRun-failed')).values()].join('\n');
    assert.match(failed, /critical node broken failed: node broken always fails/);
    assert.doesNotMatch(failed, /Encoded failure/);
  });

  test('the same history always gives the same files', async () => {
    const a = runArtifacts(await fixture('deliveryRun-completed'));
    const b = runArtifacts(await fixture('deliveryRun-completed'));
    assert.deepEqual([...a], [...b]);
  });
});
