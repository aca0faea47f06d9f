import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { nodePartition, nodeTaskQueue, stableHash } from '../../workflows/domain/run/routing';
import { ID_PATTERN, isValidId, parseDeliveryRunWorkflowId } from '../../workflows/domain/ids';

describe('routing', () => {
  test('the hash is stable across processes and versions (fixed vectors)', () => {
    assert.equal(stableHash(''), 0x811c9dc5);
    assert.equal(stableHash('acme'), stableHash('acme'));
    assert.equal(nodeTaskQueue({ tenantId: 'acme' }), `ados-nodes-${stableHash('acme') % 4}`);
  });

  test('a dedicated tenant gets its own queue', () => {
    assert.equal(nodeTaskQueue({ tenantId: 'acme', dedicatedQueue: true }), 'ados-tenant-acme');
  });

  test('property: every tenant lands on a partition in range', () => {
    fc.assert(
      fc.property(fc.stringMatching(ID_PATTERN), fc.integer({ min: 1, max: 64 }), (tenantId, partitions) => {
        const k = nodePartition(tenantId, partitions);
        assert.ok(Number.isInteger(k) && k >= 0 && k < partitions);
      }),
    );
  });

  test('a delivery run workflow id gives back its tenant and run, and nothing else parses', () => {
    assert.deepEqual(parseDeliveryRunWorkflowId('delivery-run:acme:r-001'), { tenantId: 'acme', runId: 'r-001' });
    for (const bad of [
      'delivery-run:acme',
      'delivery-run:acme:r:1',
      'delivery-run:Acme:r1',
      'tenant-budget:acme',
      'delivery-run:acme:../x',
    ]) {
      assert.equal(parseDeliveryRunWorkflowId(bad), undefined, bad);
    }
  });

  test('ids that could escape a path or a workflow id are refused', () => {
    for (const bad of ['', 'A', '../etc', 'a/b', 'a:b', '-a', 'a'.repeat(64), 'a b'])
      assert.equal(isValidId(bad), false, bad);
    for (const good of ['a', 'acme', 'r-001', 'a_b', 'a'.repeat(63)]) assert.equal(isValidId(good), true, good);
  });
});
