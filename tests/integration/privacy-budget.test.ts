import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureTenant, tenantStatus } from '../../api/client';
import { metaLearning } from '../../workflows/meta-learning';
import { contributeStatsSignal, metaLearningStatusQuery, priorsQuery } from '../../workflows/messages/meta-learning';
import { ENTITY_TASK_QUEUE, META_LEARNING_WORKFLOW_ID } from '../../workflows/domain/ids';
import type { CostStats } from '../../workflows/domain/learning/priors';
import { eventually, useTestEnvWithWorkers } from '../../testkit/temporal';

const env = useTestEnvWithWorkers();

describe('the privacy budget of the cross-tenant priors', () => {
  test('a tenant at its cap leaves releases until its account renews; every release is charged to every tenant in it', async () => {
    const config = { epsilon: 1, epsilonTotal: 3, accountingSeconds: 20, publishIntervalSeconds: 0 };
    await configureTenant(env.client, 'priv-a', { learning: { metaLearningOptIn: true } });
    let version = 0;
    /**
     * One contribution (a change, so one release if anyone has budget left); resolves once it is
     * handled and, when one is expected, its release is out (two contributions before a release
     * would share it).
     */
    const contribute = async (tenantId: string, stats: CostStats, releasesAfter?: number) => {
      const meta = await env.client.workflow.signalWithStart(metaLearning, {
        workflowId: META_LEARNING_WORKFLOW_ID,
        taskQueue: ENTITY_TASK_QUEUE,
        args: [{ config }],
        signal: contributeStatsSignal,
        signalArgs: [{ tenantId, stats: { ...stats, [`v${++version}`]: { ratio: { n: 1, mean: 1 } } } }],
      });
      // The release (if any) is made before the next message is taken: wait until this one is in.
      const key = `v${version}`;
      await eventually(async () => {
        const status = await meta.query(metaLearningStatusQuery);
        const handled = status.coordinates.some((c) => c.key.includes(key));
        return handled && (releasesAfter === undefined || status.releases >= releasesAfter) ? true : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      return meta;
    };
    const onlyA = { 'only-a': { ratio: { n: 5, mean: 1.5 } }, shared: { ratio: { n: 5, mean: 1 } } };
    const fromB = { shared: { ratio: { n: 5, mean: 2 } } };

    await contribute('priv-a', onlyA, 1); // release 1: a
    await contribute('priv-b', fromB, 2); // release 2: a, b
    await contribute('priv-a', onlyA, 3); // release 3: a, b — a has spent its 3
    const meta = await contribute('priv-b', fromB, 4); // release 4: b only
    let status = await meta.query(metaLearningStatusQuery);
    assert.equal(status.releases, 4);
    const a = status.privacy.find((p) => p.tenantId === 'priv-a')!;
    const b = status.privacy.find((p) => p.tenantId === 'priv-b')!;
    assert.deepEqual([a.epsilonSpent, a.epsilonLeft, a.releases, a.atCap], [3, 0, 3, true]);
    assert.deepEqual([b.epsilonSpent, b.epsilonLeft, b.releases, b.atCap], [3, 0, 3, true]);
    assert.equal(status.composition, 'basic');
    const fourth = (await meta.query(priorsQuery))!;
    assert.equal(fourth.version, 4);
    assert.equal(fourth.entries['only-a'], undefined, "a's data is out of the release");
    assert.equal(fourth.entries.shared?.ratio?.contributors, 1, 'only b is in the shared coordinate');

    // Both at their cap: a new contribution makes no release.
    await contribute('priv-a', onlyA);
    status = await meta.query(metaLearningStatusQuery);
    assert.equal(status.releases, 4);
    assert.equal((await meta.query(priorsQuery))!.version, 4);

    // tenant show states it.
    const shown = await tenantStatus(env.client, 'priv-a');
    assert.deepEqual(
      [shown.privacy?.epsilonSpent, shown.privacy?.epsilonLeft, shown.privacy?.epsilonTotal, shown.privacy?.atCap],
      [3, 0, 3, true],
    );

    // Once its account renews, a's data enters releases again.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(a.renewsAt) - Date.now()) + 500));
    await contribute('priv-a', onlyA);
    await eventually(async () => ((await meta.query(priorsQuery))!.version === 5 ? true : undefined), {
      what: 'a release after the renewal',
    });
    const fifth = (await meta.query(priorsQuery))!;
    assert.equal(fifth.entries['only-a']?.ratio?.contributors, 1, "a's data is back");
    status = await meta.query(metaLearningStatusQuery);
    assert.equal(status.privacy.find((p) => p.tenantId === 'priv-a')!.epsilonSpent, 1);
  });
});
