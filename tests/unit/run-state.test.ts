import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { RunState, costEventsOf } from '../../workflows/domain/run/run-state';

const at = '2026-01-01T00:00:00.000Z';
const outcome = (costMicros: number) => ({ output: null, costMicros, category: 'compute' as const, attempt: 1 });

function runState(nodes: unknown[], extra: Record<string, unknown> = {}) {
  return new RunState(deliveryRunInputSchema.parse({ tenantId: 'acme', dag: { nodes }, ...extra }));
}

describe('RunState', () => {
  test('ready nodes come most urgent first, then in declaration order', () => {
    const run = runState(
      [
        { id: 'late', kind: 'k', priority: 5 },
        { id: 'plain', kind: 'k' },
        { id: 'urgent', kind: 'k', priority: 1 },
        { id: 'plain2', kind: 'k' },
      ],
      { priority: 3 },
    );
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['urgent', 'plain', 'plain2', 'late'],
    );
  });

  test('a node is ready only when its dependencies completed', () => {
    const run = runState([
      { id: 'a', kind: 'k' },
      { id: 'b', kind: 'k', deps: ['a'] },
    ]);
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['a'],
    );
    run.markRunning('a', at);
    assert.deepEqual(run.readyNodes(), []);
    run.markCompleted('a', outcome(5), at);
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['b'],
    );
  });

  test("a non-critical node's failure lets its dependents run; a critical one's does not", () => {
    const run = runState([
      { id: 'opt', kind: 'k', critical: false },
      { id: 'crit', kind: 'k' },
      { id: 'after-opt', kind: 'k', deps: ['opt'] },
      { id: 'after-crit', kind: 'k', deps: ['crit'] },
    ]);
    run.markFailed('opt', 'boom', 1, at);
    run.markFailed('crit', 'boom', 3, at);
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['after-opt'],
    );
  });

  test('a node skipped early still holds its dependents back until its own dependencies are done', () => {
    const run = runState([
      { id: 'gen', kind: 'k' },
      { id: 'rerank', kind: 'k', deps: ['gen'], critical: false },
      { id: 'eval', kind: 'k', deps: ['rerank'] },
    ]);
    run.markSkipped('rerank', 'skipped by a DEGRADE plan');
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['gen'],
    );
    run.markRunning('gen', at);
    assert.deepEqual(run.readyNodes(), []);
    run.markCompleted('gen', outcome(1), at);
    assert.deepEqual(
      run.readyNodes().map((n) => n.id),
      ['eval'],
    );
  });

  test('a skipped or failed non-critical node passes its own inputs on to its dependents', () => {
    const run = runState([
      { id: 'gen', kind: 'k' },
      { id: 'rerank', kind: 'k', deps: ['gen'], critical: false },
      { id: 'eval', kind: 'k', deps: ['rerank'] },
    ]);
    run.markCompleted('gen', { ...outcome(1), output: { candidates: ['answer'] } }, at);
    run.markSkipped('rerank', 'skipped by a DEGRADE plan');
    assert.deepEqual(run.upstreamOutputs(run.node('eval')), { gen: { candidates: ['answer'] } });
  });

  test('the run total is exactly the sum of node costs in micro-dollars', () => {
    const run = runState([
      { id: 'a', kind: 'k' },
      { id: 'b', kind: 'k' },
      { id: 'c', kind: 'k' },
    ]);
    run.markCompleted('a', outcome(100_000), at);
    run.markCompleted('b', outcome(200_000), at);
    run.markCompleted('c', outcome(1), at);
    assert.equal(run.totalCostMicros(), 300_001);
    assert.equal(run.nodes.a!.costUsd + run.nodes.b!.costUsd === 0.30000000000000004, true, 'float sums drift…');
    assert.equal(run.totalCostMicros() / 1e6, 0.300001, '…micro-dollar sums do not');
  });

  test('closing a run cancels in-flight nodes and skips the ones never started', () => {
    const run = runState([
      { id: 'a', kind: 'k' },
      { id: 'b', kind: 'k' },
      { id: 'c', kind: 'k', deps: ['a'] },
    ]);
    run.markRunning('a', at);
    run.markCompleted('b', outcome(1), at);
    run.closeUnfinished('run cancelled', at);
    assert.deepEqual(Object.fromEntries(Object.entries(run.nodes).map(([id, r]) => [id, r.status])), {
      a: 'CANCELLED',
      b: 'COMPLETED',
      c: 'SKIPPED',
    });
  });

  test('the Web UI details are one markdown line per node: id, kind, status, attempts, cost', () => {
    const run = runState([
      { id: 'a', kind: 'util.sleep' },
      { id: 'b', kind: 'llm.generate' },
    ]);
    const md = run.detailsMarkdown('RUNNING');
    assert.match(md, /^- \*\*a\*\* \(util\.sleep\) · PENDING · 0 attempts · \$0\.000000$/m);
    assert.match(md, /^- \*\*b\*\* \(llm\.generate\) · PENDING/m);
    assert.equal(md.split('\n').filter((l) => l.startsWith('- ')).length, 2);
  });
});

describe('cost events from a result', () => {
  test('one per completed node with a cost, keyed as the run reports it, in exact micro-dollars', () => {
    const events = costEventsOf({
      runId: 'r1',
      nodes: {
        a: { status: 'COMPLETED', costUsd: 0.070001, attempts: 1, category: 'llm' },
        b: { status: 'COMPLETED', costUsd: 0, attempts: 1 },
        c: { status: 'FAILED', costUsd: 0, attempts: 3 },
        d: { status: 'COMPLETED', costUsd: 1e-6, attempts: 1 },
      },
    });
    assert.deepEqual(events, [
      { key: 'r1/a', runId: 'r1', nodeId: 'a', category: 'llm', costMicros: 70_001 },
      { key: 'r1/d', runId: 'r1', nodeId: 'd', category: 'compute', costMicros: 1 },
    ]);
  });
});
