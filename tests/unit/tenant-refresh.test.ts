import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refreshTenant } from '../../activities/control';

describe('tenant file refreshes', () => {
  test('concurrent run exports share refreshes: ten callers cost two refreshes, each finishing after its caller arrived', async () => {
    let started = 0;
    const startedAt: number[] = [];
    const refresh = async () => {
      started++;
      startedAt.push(performance.now());
      await new Promise((r) => setTimeout(r, 30));
      return [`refresh-${started}`];
    };
    const calls = Array.from({ length: 10 }, () => {
      const calledAt = performance.now();
      return refreshTenant('acme', refresh).then((files) => ({ calledAt, files }));
    });
    const results = await Promise.all(calls);
    assert.equal(started, 2);
    assert.deepEqual(results[0]!.files, ['refresh-1']);
    for (const r of results.slice(1))
      assert.deepEqual(r.files, ['refresh-2'], 'later callers get a refresh that started after them');
    assert.ok(startedAt[1]! >= results[9]!.calledAt);
    // Once idle, the next caller starts a fresh one at once.
    assert.deepEqual(await refreshTenant('acme', refresh), ['refresh-3']);
  });
});
