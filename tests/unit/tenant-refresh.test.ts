import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refreshTenant } from '../../activities/control';

describe('tenant file refreshes', () => {
  test('concurrent run exports share refreshes: fifteen callers cost two refreshes, each begun after its callers arrived', async () => {
    let started = 0;
    const startedAt: number[] = [];
    const refresh = async () => {
      started++;
      startedAt.push(performance.now());
      await new Promise((r) => setTimeout(r, 30));
      return [`refresh-${started}`];
    };
    const call = () => {
      const calledAt = performance.now();
      return refreshTenant('acme', refresh).then((files) => ({ calledAt, files }));
    };
    const together = Array.from({ length: 10 }, call);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(started, 1, 'callers arriving together share one refresh');
    const during = Array.from({ length: 5 }, call);
    const [first, second] = [await Promise.all(together), await Promise.all(during)];
    assert.equal(started, 2);
    for (const r of first) assert.deepEqual(r.files, ['refresh-1']);
    for (const r of second) assert.deepEqual(r.files, ['refresh-2'], 'callers arriving mid-refresh get the next one');
    assert.ok(startedAt[0]! >= first[9]!.calledAt);
    assert.ok(startedAt[1]! >= second[4]!.calledAt);
    // Once idle, the next caller starts a fresh one.
    assert.deepEqual(await refreshTenant('acme', refresh), ['refresh-3']);
  });
});
