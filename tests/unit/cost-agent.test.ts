import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decideCost, type CostAgentInput } from '../../workflows/domain/run/cost-agent';
import type { TenantPressure } from '../../workflows/domain/tenant/entity-payloads';
import { tenantPressure } from '../../testkit/pressure';

const pressure = (p: Partial<TenantPressure> = {}): TenantPressure => tenantPressure(p);
const input = (i: Partial<CostAgentInput> = {}, p: Partial<TenantPressure> = {}): CostAgentInput => ({
  pressure: pressure(p),
  unreportedMicros: 0,
  remainingFullMicros: 100_000,
  remainingDegradedMicros: 20_000,
  nodesDone: 0,
  nodesTotal: 4,
  alreadyDegraded: false,
  ...i,
});

describe('CostAgent', () => {
  test('CONTINUE within budget and below every threshold', () => {
    const v = decideCost(input());
    assert.equal(v.action, 'CONTINUE');
    assert.equal(v.utilization, 0);
    assert.equal(v.concurrencyFactor, 0.1);
    assert.equal(v.projectedTotalUsd, 0.1);
  });

  test('TERMINATE when the budget is exceeded, counting costs not yet reported', () => {
    assert.equal(decideCost(input({}, { spentMicros: 1_000_000 })).action, 'TERMINATE');
    const v = decideCost(input({ unreportedMicros: 100_000 }, { spentMicros: 900_000 }));
    assert.equal(v.action, 'TERMINATE');
    assert.match(v.reason, /budget exceeded/);
  });

  test('TERMINATE when even the degraded remainder is projected past the budget, counting other runs', () => {
    const v = decideCost(
      input({ remainingDegradedMicros: 300_000 }, { spentMicros: 500_000, othersCommittedMicros: 300_000 }),
    );
    assert.equal(v.action, 'TERMINATE');
    assert.match(v.reason, /even the degraded remainder/);
    assert.equal(v.projectedTotalUsd, 1.1);
  });

  test('DEGRADE above the critical threshold', () => {
    const v = decideCost(input({}, { spentMicros: 910_000 }));
    assert.equal(v.action, 'DEGRADE');
    assert.match(v.reason, /critical threshold/);
  });

  test('DEGRADE when the concurrency factor is above the backpressure threshold', () => {
    const v = decideCost(input({}, { activeRuns: 9 }));
    assert.equal(v.action, 'DEGRADE');
    assert.match(v.reason, /9 of 10 runs in flight/);
  });

  test('DEGRADE when the full remainder is projected past the budget but the degraded one fits', () => {
    const v = decideCost(
      input({ remainingFullMicros: 600_000, remainingDegradedMicros: 100_000 }, { othersCommittedMicros: 500_000 }),
    );
    assert.equal(v.action, 'DEGRADE');
    assert.match(v.reason, /full remainder/);
  });

  test('a run already degraded continues on its plan unless it must stop', () => {
    assert.equal(decideCost(input({ alreadyDegraded: true }, { spentMicros: 950_000 })).action, 'CONTINUE');
    assert.equal(
      decideCost(input({ alreadyDegraded: true, remainingDegradedMicros: 60_000 }, { spentMicros: 950_000 })).action,
      'TERMINATE',
    );
  });

  test('property: confidence falls with concurrency and rises with progress', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), (active, done) => {
        const base = decideCost(input({ nodesDone: done }, { activeRuns: active }));
        const busier = decideCost(input({ nodesDone: done }, { activeRuns: active + 1 }));
        const further = decideCost(input({ nodesDone: done + 1 }, { activeRuns: active }));
        assert.ok(busier.confidence <= base.confidence);
        assert.ok(further.confidence >= base.confidence);
        assert.ok(base.confidence > 0 && base.confidence <= 1);
      }),
    );
  });

  test('property: TERMINATE exactly when spent ≥ budget or the degraded projection overshoots; never CONTINUE on a full projection that overshoots', () => {
    fc.assert(
      fc.property(
        fc.record({
          spent: fc.integer({ min: 0, max: 2_000_000 }),
          others: fc.integer({ min: 0, max: 1_000_000 }),
          full: fc.integer({ min: 0, max: 1_000_000 }),
          ratio: fc.double({ min: 0, max: 1, noNaN: true }),
          active: fc.integer({ min: 1, max: 10 }),
        }),
        ({ spent, others, full, ratio, active }) => {
          const degraded = Math.floor(full * ratio);
          const v = decideCost(
            input(
              { remainingFullMicros: full, remainingDegradedMicros: degraded },
              { spentMicros: spent, othersCommittedMicros: others, activeRuns: active },
            ),
          );
          const mustStop = spent >= 1_000_000 || spent + others + degraded > 1_000_000;
          assert.equal(v.action === 'TERMINATE', mustStop);
          if (spent + others + full > 1_000_000) assert.notEqual(v.action, 'CONTINUE');
        },
      ),
    );
  });
});
