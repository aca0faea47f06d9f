import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';
import { COST_BATCH, RunGovernor } from '../../workflows/domain/run/run-governor';
import { RunPlan } from '../../workflows/domain/run/run-plan';
import { RunState } from '../../workflows/domain/run/run-state';
import type { LeaseGrant, TenantPressure } from '../../workflows/domain/tenant/entity-payloads';
import { tenantPressure } from '../../testkit/pressure';

const now = '2026-01-01T00:00:00.000Z';
const pressure = (over: Partial<TenantPressure> = {}): TenantPressure => tenantPressure(over, 100_000_000);
const lease = (grantedMicros: number, seq = 0, p = pressure()): LeaseGrant => ({
  runId: 'r',
  grantedMicros,
  pressure: p,
  seq,
});

/** A chain of util.sleep nodes, each costing `costUsd` (its exact estimate). */
function governed(costs: number[], extra: Record<string, unknown>[] = []) {
  const nodes = costs.map((costUsd, i) => ({
    id: `n${i}`,
    kind: 'util.sleep',
    params: { costUsd },
    ...(i > 0 ? { deps: [`n${i - 1}`] } : {}),
    ...(extra[i] ?? {}),
  }));
  const run = new RunState(deliveryRunInputSchema.parse({ tenantId: 'acme', runId: 'r', dag: { nodes } }));
  const plan = new RunPlan(run);
  const actions: string[] = [];
  return { run, plan, governor: new RunGovernor(run, plan, (a) => actions.push(a)), actions };
}

describe('RunGovernor', () => {
  test('a node covered by the lease starts, and its estimate is held until it ends', () => {
    const { run, governor, actions } = governed([0.1, 0.2]);
    governor.granted(lease(300_000));
    assert.deepEqual(governor.gate(run.node('n0'), now), { kind: 'start' });
    assert.equal(governor.inFlightMicros(), 100_000);
    assert.equal(governor.available(), 200_000);
    assert.deepEqual(actions, ['CONTINUE']);
    assert.equal(governor.decisions[0]!.nodeId, 'n0');
    assert.equal(
      governor.decisions[0]!.leaseAvailableUsd,
      0.3,
      'the decision records the lease before the node holds its estimate',
    );
    run.markCompleted('n0', { output: null, costMicros: 100_000, category: 'compute', attempt: 1 }, now);
    governor.nodeEnded('n0', { key: 'r/n0', runId: 'r', nodeId: 'n0', category: 'compute', costMicros: 100_000 });
    assert.equal(governor.inFlightMicros(), 0);
    assert.equal(governor.available(), 200_000, 'the spent cost replaces the estimate');
  });

  test('a short lease asks for what the rest of the run needs, with the unreported costs', () => {
    const { run, governor } = governed([0.1, 0.2]);
    governor.granted(lease(50_000));
    run.markCompleted('n0', { output: null, costMicros: 10_000, category: 'compute', attempt: 1 }, now);
    governor.nodeEnded('n0', { key: 'r/n0', runId: 'r', nodeId: 'n0', category: 'compute', costMicros: 10_000 });
    const gate = governor.gate(run.node('n1'), now);
    assert.equal(gate.kind, 'short');
    const request = governor.leaseRequest('r');
    assert.deepEqual(
      { seq: request.seq, requestMicros: request.requestMicros, costs: request.costs.map((c) => c.key) },
      { seq: 1, requestMicros: 200_000 - 40_000, costs: ['r/n0'] },
    );
    assert.equal(governor.hasAnswer(1), false);
    governor.granted(lease(50_000 + 160_000, 1));
    assert.equal(governor.hasAnswer(1), true);
    assert.deepEqual(governor.afterTopUp(run.node('n1'), gate as Extract<typeof gate, { kind: 'short' }>, now), {
      kind: 'start',
    });
  });

  test('a lease still short after asking degrades the run first, then terminates it with the reason', () => {
    const { run, governor } = governed([0.5, 0.5], [{}, { critical: false }]);
    governor.granted(lease(100_000));
    const gate = governor.gate(run.node('n0'), now);
    assert.equal(gate.kind, 'short');
    const after = governor.afterTopUp(run.node('n0'), gate as Extract<typeof gate, { kind: 'short' }>, now);
    assert.equal(after.kind, 'stop');
    assert.match(
      (after as { reason: string }).reason,
      /no budget left to authorise node n0: it needs \$0\.500000, \$0\.100000 is available/,
    );
    assert.deepEqual(
      governor.decisions.map((d) => d.action),
      ['CONTINUE', 'DEGRADE', 'TERMINATE'],
    );
    assert.equal(run.nodes.n1!.status, 'SKIPPED', 'the DEGRADE plan skipped the optional node');
  });

  test('an answer older than the lease in hand is ignored; pressure changes keep the money granted', () => {
    const { governor } = governed([0.1]);
    governor.granted(lease(300_000, 2));
    governor.granted(lease(100_000, 1));
    assert.equal(governor.grantedMicros(), 300_000);
    governor.pressureChanged(pressure({ budgetStatus: 'WARNING' }));
    assert.equal(governor.grantedMicros(), 300_000);
    assert.equal(governor.lease!.pressure.budgetStatus, 'WARNING');
  });

  test(`costs leave in batches of ${COST_BATCH}, and each cost is handed over exactly once`, () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 60 }), (costs) => {
        const { governor } = governed(costs.map(() => 0));
        const sent: number[] = [];
        costs.forEach((micros, i) => {
          const batch = governor.nodeEnded(`n${i}`, {
            key: `r/n${i}`,
            runId: 'r',
            nodeId: `n${i}`,
            category: 'compute',
            costMicros: micros,
          });
          if (batch) {
            assert.equal(batch.length, COST_BATCH);
            sent.push(...batch.map((e) => e.costMicros));
          }
        });
        sent.push(...governor.takeUnreported().map((e) => e.costMicros));
        assert.deepEqual(
          sent,
          costs.filter((c) => c > 0),
        );
        assert.deepEqual(governor.takeUnreported(), []);
      }),
    );
  });
});
