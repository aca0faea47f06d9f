import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { TenantLedger } from '../../workflows/domain/tenant/ledger';
import { tenantStatusOf } from '../../workflows/domain/tenant/tenant-status';
import { budgetStatus } from '../../workflows/domain/tenant/budget-status';
import { periodEnd, periodStartFor } from '../../workflows/domain/tenant/budget-period';
import { tenantConfigSchema } from '../../workflows/domain/tenant/tenant-config';
import { RELEASED_RUNS_KEPT } from '../../workflows/domain/tenant/ledger-core';

const now = '2026-01-01T00:00:00.000Z';
const ledger = (config: Record<string, unknown> = {}) =>
  TenantLedger.create(tenantConfigSchema.parse({ tenantId: 'acme', ...config }), now);
const request = (runId: string, priority = 3) => ({ runId, workflowId: `delivery-run:acme:${runId}`, priority });
const cost = (key: string, costMicros: number, category: 'llm' | 'compute' = 'llm') => ({
  key,
  runId: key.split('/')[0]!,
  nodeId: key.split('/')[1]!,
  category,
  costMicros,
});

describe('budget status', () => {
  test('thresholds split HEALTHY, WARNING, CRITICAL and EXCEEDED', () => {
    const t = { warning: 0.7, critical: 0.9 };
    assert.equal(budgetStatus(0, t), 'HEALTHY');
    assert.equal(budgetStatus(0.6999, t), 'HEALTHY');
    assert.equal(budgetStatus(0.7, t), 'WARNING');
    assert.equal(budgetStatus(0.9, t), 'CRITICAL');
    assert.equal(budgetStatus(1, t), 'EXCEEDED');
  });
});

describe('TenantLedger', () => {
  test('a cost event is charged once, whatever the repeats', () => {
    const l = ledger({ budgetUsd: 1 });
    assert.equal(l.recordCost(cost('r1/a', 250_000)), true);
    assert.equal(l.recordCost(cost('r1/a', 250_000)), false);
    assert.equal(l.recordCost(cost('r1/b', 100_000, 'compute')), true);
    const s = tenantStatusOf(l);
    assert.equal(s.spentUsd, 0.35);
    assert.deepEqual(s.spendByCategory, { llm: 0.25, compute: 0.1 });
    assert.equal(s.chargedEvents, 2);
  });

  test('property: replaying any sequence of cost events with repeats charges each key exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5_000_000 })), { maxLength: 200 }),
        (events) => {
          const l = ledger({ budgetUsd: 1000 });
          const firstCost = new Map<number, number>();
          for (const [k, micros] of events) {
            if (!firstCost.has(k)) firstCost.set(k, micros);
            l.recordCost(cost(`r/n${k}`, firstCost.get(k)!));
          }
          const expected = [...firstCost.values()].reduce((a, b) => a + b, 0);
          assert.equal(l.spentMicros(), expected);
          assert.equal(tenantStatusOf(l).chargedEvents, firstCost.size);
          // The state survives continue-as-new: a new ledger from the same state still refuses repeats.
          const carried = new TenantLedger(JSON.parse(JSON.stringify(l.state)));
          for (const k of firstCost.keys()) assert.equal(carried.recordCost(cost(`r/n${k}`, 1)), false);
        },
      ),
    );
  });

  test('at most maxConcurrentRuns are admitted; the rest wait by priority, FIFO within one', () => {
    const l = ledger({ maxConcurrentRuns: 2, backpressureThreshold: 1 });
    assert.equal(l.requestAdmission(request('a'), now).kind, 'ADMITTED');
    assert.equal(l.requestAdmission(request('b'), now).kind, 'ADMITTED');
    assert.deepEqual(l.requestAdmission(request('c', 4), now), { kind: 'WAITING', runId: 'c', position: 1 });
    assert.deepEqual(l.requestAdmission(request('d', 2), now), { kind: 'WAITING', runId: 'd', position: 1 });
    assert.deepEqual(l.requestAdmission(request('e', 2), now), { kind: 'WAITING', runId: 'e', position: 2 });
    assert.deepEqual(
      tenantStatusOf(l).runsWaiting.map((w) => w.runId),
      ['d', 'e', 'c'],
    );
    l.releaseRun('a', [], now);
    assert.deepEqual(
      l.admitWaiting(now).map((r) => r.decision.runId),
      ['d'],
    );
    l.releaseRun('b', [], now);
    l.releaseRun('d', [], now);
    assert.deepEqual(
      l.admitWaiting(now).map((r) => [r.workflowId, r.decision.kind]),
      [
        ['delivery-run:acme:e', 'ADMITTED'],
        ['delivery-run:acme:c', 'ADMITTED'],
      ],
    );
  });

  test('admission before start answers ADMITTED or REJECTED at once, and QUEUE (not queued) when the run would wait', () => {
    const l = ledger({ maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const first = l.admitNow({ ...request('a'), estimatedMicros: 1000 }, now);
    assert.equal(first.kind, 'ADMITTED');
    assert.deepEqual(l.admitNow(request('a'), now), first, 'a repeat gets the same ticket and takes no second slot');
    assert.deepEqual(l.admitNow(request('b'), now), { kind: 'QUEUE', runId: 'b' });
    assert.deepEqual(
      tenantStatusOf(l).runsWaiting,
      [],
      'a QUEUE answer leaves nothing queued: the run queues itself when it starts',
    );
    assert.equal(l.requestAdmission(request('b'), now).kind, 'WAITING');
    l.releaseRun('a', [], now);
    assert.deepEqual(
      l.admitNow(request('c', 3), now),
      { kind: 'QUEUE', runId: 'c' },
      'a run of the same priority already waiting goes first',
    );
    l.recordCosts([cost('x/1', 100_000_000_000)], now);
    assert.equal(l.admitNow(request('d'), now).kind, 'REJECTED', 'an EXCEEDED tenant rejects at once');
  });

  test("a started run's launch that must wait is queued at once, in priority order, and a repeat keeps its place", () => {
    const l = ledger({ maxConcurrentRuns: 1, backpressureThreshold: 1 });
    const started = (runId: string, priority = 3) => ({ ...request(runId, priority), started: true });
    assert.equal(l.admitNow(started('a'), now).kind, 'ADMITTED');
    assert.deepEqual(l.admitNow(started('b'), now), { kind: 'WAITING', runId: 'b', position: 1 });
    assert.deepEqual(l.admitNow(started('c', 1), now), { kind: 'WAITING', runId: 'c', position: 1 }, 'more urgent');
    assert.deepEqual(l.admitNow(started('b'), now), { kind: 'WAITING', runId: 'b', position: 2 }, 'a repeat');
    assert.deepEqual(
      tenantStatusOf(l).runsWaiting.map((w) => w.runId),
      ['c', 'b'],
    );
    assert.equal(l.admitNow(request('d'), now).kind, 'QUEUE', 'a run not yet started is still only told QUEUE');
    l.releaseRun('a', [], now);
    const [next] = l.admitWaiting(now);
    assert.equal(next?.workflowId, 'delivery-run:acme:c', 'the first in the queue is admitted when a slot frees');
  });

  test('a repeated admission is told the same exploration decision as the first, and takes no second turn', () => {
    const l = ledger({ budgetUsd: 5, maxConcurrentRuns: 10, learning: { intensity: 'AGGRESSIVE', minSamples: 1000 } });
    const explores = (runId: string) => {
      const ticket = l.admitNow(request(runId), now);
      assert.equal(ticket.kind, 'ADMITTED');
      return (ticket as { learning: { explore: boolean } }).learning.explore;
    };
    // AGGRESSIVE: every second run explores.
    assert.deepEqual(['r0', 'r1', 'r2', 'r3'].map(explores), [false, true, false, true]);
    // The starter asked again for each (a retried activity, a lost answer): the same answers, no new draws.
    assert.deepEqual(['r0', 'r1', 'r2', 'r3'].map(explores), [false, true, false, true]);
    assert.deepEqual(['r4', 'r5'].map(explores), [false, true], 'the repeats took no turn at exploring');
  });

  test('at the backpressure threshold only priority 1-2 runs start at once', () => {
    const l = ledger({ maxConcurrentRuns: 5, backpressureThreshold: 0.4 });
    assert.equal(l.requestAdmission(request('a'), now).kind, 'ADMITTED');
    assert.equal(l.requestAdmission(request('b'), now).kind, 'ADMITTED');
    assert.equal(l.requestAdmission(request('normal', 3), now).kind, 'WAITING');
    assert.equal(l.requestAdmission(request('urgent', 2), now).kind, 'ADMITTED');
  });

  test('a repeated request gets the same answer and takes no second slot', () => {
    const l = ledger({ maxConcurrentRuns: 1 });
    assert.equal(l.requestAdmission(request('a'), now).kind, 'ADMITTED');
    assert.equal(l.requestAdmission(request('a'), now).kind, 'ADMITTED');
    assert.equal(tenantStatusOf(l).runsInFlight.length, 1);
  });

  test("an EXCEEDED tenant's new run is REJECTED with the reason, and its waiting runs too", () => {
    const l = ledger({ budgetUsd: 1, maxConcurrentRuns: 1 });
    l.requestAdmission(request('a'), now);
    l.requestAdmission(request('waiting'), now);
    l.recordCost(cost('a/x', 1_000_000));
    const rejected = l.requestAdmission(request('b'), now);
    assert.equal(rejected.kind, 'REJECTED');
    assert.match(rejected.kind === 'REJECTED' ? rejected.reason : '', /budget exceeded: spent \$1\.000000 of \$1/);
    assert.deepEqual(
      l.admitWaiting(now).map((r) => [r.decision.runId, r.decision.kind]),
      [['waiting', 'REJECTED']],
    );
  });

  test('a configuration change keeps the fields it does not name', () => {
    const l = ledger({ budgetUsd: 12, learning: { intensity: 'AGGRESSIVE', metaLearningOptIn: true } });
    l.configure({ maxConcurrentRuns: 3, learning: { intensity: 'CONSERVATIVE' } }, now);
    assert.equal(l.config.budgetUsd, 12);
    assert.equal(l.config.maxConcurrentRuns, 3);
    assert.deepEqual(
      { intensity: l.config.learning.intensity, metaLearningOptIn: l.config.learning.metaLearningOptIn },
      { intensity: 'CONSERVATIVE', metaLearningOptIn: true },
    );
    assert.throws(() => l.configure({ thresholds: { warning: 0.95 } }, now), /warning must be below critical/);
    assert.equal(l.config.thresholds.warning, 0.7, 'a refused change leaves the config as it was');
  });
});

describe('budget leases', () => {
  const admit = (l: TenantLedger, runId: string, estimatedMicros: number) => {
    const d = l.requestAdmission({ ...request(runId), estimatedMicros }, now);
    assert.equal(d.kind, 'ADMITTED');
    return d.kind === 'ADMITTED' ? d.lease : assert.fail();
  };

  test('a lease covers the estimate while money is available, and no two runs are authorised the same money', () => {
    const l = ledger({ budgetUsd: 1, maxConcurrentRuns: 10 });
    assert.equal(admit(l, 'a', 600_000).grantedMicros, 600_000);
    assert.equal(admit(l, 'b', 600_000).grantedMicros, 400_000);
    assert.equal(admit(l, 'c', 600_000).grantedMicros, 0);
    assert.equal(tenantStatusOf(l).reservedUsd, 1);
    assert.equal(
      l.pressureFor('c').othersCommittedMicros,
      1_200_000,
      'other runs commit the larger of reservation and estimate',
    );
  });

  test('spending consumes the reservation; a release returns what was not spent', () => {
    const l = ledger({ budgetUsd: 1 });
    admit(l, 'a', 600_000);
    l.recordCosts([cost('a/x', 200_000)], now);
    assert.equal(l.reservedMicros(), 400_000);
    assert.equal(l.availableMicros(), 400_000);
    l.releaseRun('a', [cost('a/y', 100_000)], now);
    assert.equal(l.reservedMicros(), 0);
    assert.equal(l.availableMicros(), 700_000);
  });

  test('property: with runs spending no more than they were granted, spend never passes the budget', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400_000 }), fc.double({ min: 0, max: 1, noNaN: true })), {
          minLength: 1,
          maxLength: 40,
        }),
        (runs) => {
          const l = ledger({ budgetUsd: 1, maxConcurrentRuns: 100 });
          const grants = runs.map(([estimate], i) => admit(l, `r${i}`, estimate).grantedMicros);
          runs.forEach(([, share], i) => l.releaseRun(`r${i}`, [cost(`r${i}/n`, Math.floor(grants[i]! * share))], now));
          assert.ok(l.spentMicros() <= 1_000_000);
          assert.equal(l.reservedMicros(), 0);
        },
      ),
    );
  });

  test('a top-up charges the costs it brings, then grants what is available', () => {
    const l = ledger({ budgetUsd: 1 });
    admit(l, 'a', 100_000);
    const grant = l.topUpLease(
      { runId: 'a', seq: 1, requestMicros: 2_000_000, estRemainingMicros: 2_000_000, costs: [cost('a/x', 100_000)] },
      now,
    );
    assert.equal(grant.seq, 1);
    assert.equal(grant.grantedMicros, 1_000_000, 'all that is left: the budget less what was spent outside this lease');
    assert.equal(grant.pressure.spentMicros, 100_000);
  });

  test('a top-up asked again (its answer lost with a region) is granted once, and its costs charged once', () => {
    const l = ledger({ budgetUsd: 1 });
    admit(l, 'a', 100_000);
    const request = {
      runId: 'a',
      seq: 1,
      requestMicros: 200_000,
      estRemainingMicros: 200_000,
      costs: [cost('a/x#e1', 100_000)],
    };
    const first = l.topUpLease(request, now);
    const again = l.topUpLease(request, now);
    assert.equal(again.grantedMicros, first.grantedMicros);
    assert.equal(l.spentMicros(), 100_000);
    const next = l.topUpLease({ ...request, seq: 2, costs: [] }, now);
    assert.equal(next.grantedMicros, first.grantedMicros + 200_000, 'the next request is granted as before');
  });

  test('a run the entity does not hold that names itself is held again (its admission lost with a region); one that does not gets nothing', () => {
    const l = ledger({ budgetUsd: 1, maxConcurrentRuns: 5 });
    const request = { runId: 'lost', seq: 1, requestMicros: 50_000, estRemainingMicros: 50_000, costs: [] };
    assert.equal(l.topUpLease(request, now).grantedMicros, 0);
    assert.equal(l.state.inFlight.length, 0);
    const named = l.topUpLease({ ...request, workflowId: 'delivery-run:acme:lost', priority: 2 }, now);
    assert.equal(named.grantedMicros, 50_000);
    assert.deepEqual(
      l.state.inFlight.map((r) => [r.runId, r.workflowId, r.priority]),
      [['lost', 'delivery-run:acme:lost', 2]],
    );
    l.releaseRun('lost', [cost('lost/n#e1', 10_000)], now);
    assert.equal(l.reservedMicros(), 0);
    assert.equal(l.spentMicros(), 10_000);
  });

  test('a lease request arriving after its run was released (sent again across a failover) holds nothing again; its costs are charged once', () => {
    const l = ledger({ budgetUsd: 1, maxConcurrentRuns: 5 });
    l.state.released = [];
    l.admitNow({ runId: 'done', workflowId: 'delivery-run:acme:done', priority: 3, estimatedMicros: 20_000 }, now);
    const late = {
      runId: 'done',
      seq: 1,
      requestMicros: 50_000,
      estRemainingMicros: 50_000,
      costs: [cost('done/n#e1', 10_000)],
      workflowId: 'delivery-run:acme:done',
      priority: 3,
    };
    l.releaseRun('done', [cost('done/n#e1', 10_000)], now);
    assert.equal(l.topUpLease(late, now).grantedMicros, 0);
    assert.deepEqual(l.state.inFlight, [], 'no slot held by a finished run');
    assert.equal(l.reservedMicros(), 0);
    assert.equal(l.spentMicros(), 10_000);
    // The memory is bounded: the oldest released runs are forgotten first.
    for (let i = 0; i < RELEASED_RUNS_KEPT; i++) {
      l.admitNow({ runId: `r${i}`, workflowId: `delivery-run:acme:r${i}`, priority: 3 }, now);
      l.releaseRun(`r${i}`, [], now);
    }
    assert.equal(l.state.released.length, RELEASED_RUNS_KEPT);
    assert.equal(l.state.released.includes('done'), false);
  });
});

describe('budget periods', () => {
  test('a daily period ends at the next UTC midnight; a monthly one on the first of the next month', () => {
    assert.equal(periodEnd('2026-11-27T00:00:00.000Z', { period: 'daily' }), '2026-11-28T00:00:00.000Z');
    assert.equal(periodEnd('2026-11-01T00:00:00.000Z', { period: 'monthly' }), '2026-12-01T00:00:00.000Z');
    assert.equal(periodEnd('2026-12-01T00:00:00.000Z', { period: 'monthly' }), '2027-01-01T00:00:00.000Z');
    assert.equal(periodEnd('2026-11-27T10:00:00.000Z', { period: 'none' }), undefined);
    assert.equal(periodStartFor('2026-11-27T10:11:12.000Z', { period: 'monthly' }), '2026-11-01T00:00:00.000Z');
  });

  test('rollover archives the period with its totals, restarts spend, and keeps in-flight reservations', () => {
    const l = TenantLedger.create(
      tenantConfigSchema.parse({ tenantId: 'acme', budgetUsd: 1, period: 'daily' }),
      '2026-11-27T10:00:00.000Z',
    );
    assert.equal(l.state.periodStart, '2026-11-27T00:00:00.000Z');
    l.requestAdmission({ ...request('a'), estimatedMicros: 500_000 }, now);
    l.recordCosts([cost('a/x', 200_000), cost('b/y', 100_000, 'compute')], now);
    assert.deepEqual(l.rolloverIfDue('2026-11-27T23:59:59.000Z'), []);
    const archived = l.rolloverIfDue('2026-11-29T00:00:01.000Z');
    assert.equal(archived.length, 2, 'two days passed');
    assert.deepEqual(archived[0], {
      start: '2026-11-27T00:00:00.000Z',
      end: '2026-11-28T00:00:00.000Z',
      spentUsd: 0.3,
      spendByCategory: { llm: 0.2, compute: 0.1 },
    });
    assert.equal(archived[1]!.spentUsd, 0);
    assert.equal(l.spentMicros(), 0);
    assert.equal(l.reservedMicros(), 300_000, 'the unspent reservation carries over');
    assert.equal(l.state.periodStart, '2026-11-29T00:00:00.000Z');
  });

  test('a one-second period given to a tenant whose period began weeks ago archives two entries, not millions', () => {
    const l = TenantLedger.create(
      tenantConfigSchema.parse({ tenantId: 'acme', budgetUsd: 1, period: 'monthly' }),
      '2026-11-27T10:00:00.000Z',
    );
    l.recordCosts([cost('a/x', 200_000)], now);
    l.state.config = tenantConfigSchema.parse({ tenantId: 'acme', budgetUsd: 1, periodSeconds: 1 });
    const archived = l.rolloverIfDue('2026-11-27T10:00:00.500Z');
    assert.deepEqual(
      archived.map((p) => [p.start, p.end, p.spentUsd]),
      [
        ['2026-11-01T00:00:00.000Z', '2026-11-01T00:00:01.000Z', 0.2],
        ['2026-11-01T00:00:01.000Z', '2026-11-27T10:00:00.000Z', 0],
      ],
    );
    assert.equal(l.state.periodStart, '2026-11-27T10:00:00.000Z');
    assert.equal(l.currentPeriodEnd(), '2026-11-27T10:00:01.000Z');
  });
});

describe('a tenant moving to another deployment', () => {
  const later = '2026-01-01T00:01:00.000Z';
  test('takes no new run and leases no block, still takes runs started before the move until it hands over, and hands over only once nothing holds it', () => {
    const l = ledger({ budgetUsd: 10, maxConcurrentRuns: 2, backpressureThreshold: 1 });
    const block = l.leaseBlocks(
      { starter: 'api-1', used: [], handBack: [], want: { blockId: 'b1', slots: 1, micros: 1000, ttlSeconds: 30 } },
      now,
    );
    assert.ok('grant' in block);
    assert.equal(l.requestAdmission(request('a'), now).kind, 'ADMITTED');

    const moving = l.moveOut('the new deployment', later);
    assert.equal(moving.movedTo, 'the new deployment');
    assert.equal(moving.drained, false);
    const refused = l.requestAdmission(request('new'), later);
    assert.equal(refused.kind, 'REJECTED');
    assert.equal(refused.kind === 'REJECTED' && refused.code, 'TENANT_MOVED');
    assert.match(refused.kind === 'REJECTED' ? refused.reason : '', /tenant acme moved to the new deployment/);
    // The starter's blocks are revoked, and no new one is leased.
    const answer = l.leaseBlocks(
      { starter: 'api-1', used: [], handBack: [], want: { blockId: 'b2', slots: 1, micros: 1000, ttlSeconds: 30 } },
      later,
    );
    assert.deepEqual(answer, { none: 'the tenant moved to the new deployment', revoked: ['b1'] });
    l.leaseBlocks({ starter: 'api-1', used: [], handBack: ['b1'], want: undefined }, later);
    // A run whose workflow started before the move, asking only now, is still taken.
    const early = l.requestAdmission({ ...request('early'), startedAt: now }, later);
    assert.equal(early.kind, 'ADMITTED');
    assert.equal(l.moveOut('the new deployment', later, true).state, undefined, 'not while runs hold it');
    l.releaseRun('a', [cost('a/n', 300)], later);
    l.releaseRun('early', [cost('early/n', 200)], later);
    const handed = l.moveOut('the new deployment', later, true);
    assert.equal(handed.drained, true);
    assert.ok(handed.state);
    assert.equal(handed.state.movedTo, undefined);
    assert.deepEqual(handed.state.spentMicros, { llm: 500 });
    // Handed over: not even a run started before the move is taken now.
    assert.equal(l.requestAdmission({ ...request('late'), startedAt: now }, later).kind, 'REJECTED');
  });

  test('a move called off (null) opens it again', () => {
    const l = ledger({ budgetUsd: 10 });
    l.moveOut('elsewhere', later);
    assert.equal(l.requestAdmission(request('x'), later).kind, 'REJECTED');
    l.moveOut(null, later);
    assert.equal(l.requestAdmission(request('y'), later).kind, 'ADMITTED');
    assert.equal(tenantStatusOf(l).movedTo, undefined);
  });
});
