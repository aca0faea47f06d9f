import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdmittedWork } from '../../infra/metrics/admitted-work';

test("the admitted runs' remaining work: summed by queue with their scheduled nodes, priced by each kind's measured duration, dropped when done or stale", () => {
  let now = 0;
  const work = new AdmittedWork(() => now);
  work.report('a/1', 'ados-nodes-0', { 'llm.generate': 2, rerank: 1 }, 2);
  work.report('b/1', 'ados-nodes-0', { rerank: 1 });
  work.report('c/1', 'ados-nodes-1', { 'util.sleep': 3 }, 1);
  // Before any node is measured, each kind is expected to take the prior second.
  assert.deepEqual(Object.fromEntries(work.byQueue()), {
    'ados-nodes-0': { nodes: 4, nodeSeconds: 4, scheduled: 2 },
    'ados-nodes-1': { nodes: 3, nodeSeconds: 3, scheduled: 1 },
  });
  // The first measurement replaces the prior; later ones move the mean by a fifth of the difference.
  work.nodeRan('llm.generate', 5000);
  work.nodeRan('llm.generate', 10_000);
  assert.equal(work.expectedSeconds('llm.generate'), 6);
  assert.equal(work.byQueue().get('ados-nodes-0')!.nodeSeconds, 2 * 6 + 1 + 1);
  // A run reports its last nodes gone: it leaves, and its queue stays at zero.
  work.report('c/1', 'ados-nodes-1', {});
  assert.deepEqual(work.byQueue().get('ados-nodes-1'), { nodes: 0, nodeSeconds: 0, scheduled: 0 });
  // A run not heard from for STALE_MS (terminated from outside, or moved to another worker) is dropped.
  now = AdmittedWork.STALE_MS - 1;
  work.report('b/1', 'ados-nodes-0', { rerank: 1 });
  now = AdmittedWork.STALE_MS + 1;
  assert.deepEqual(work.byQueue().get('ados-nodes-0'), { nodes: 1, nodeSeconds: 1, scheduled: 0 });
  // Nonsense durations are not learned.
  work.nodeRan('rerank', Number.NaN);
  work.nodeRan('rerank', -5);
  assert.equal(work.expectedSeconds('rerank'), AdmittedWork.PRIOR_SECONDS);
});
