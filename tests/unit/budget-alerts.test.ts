import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  emptyAlertState,
  projectedExhaustion,
  raiseDue,
  settle,
  type BudgetView,
} from '../../workflows/domain/alerts/budget-alerts';

const config = {
  webhookUrl: 'https://hooks.example.com/b',
  secretSealed: 'sealed:v1:k:a:b:c',
  thresholds: [0.5, 0.8, 1],
  projectedExhaustion: true,
};
const view = (spent: number, now = '2026-11-10T00:00:00.000Z'): BudgetView => ({
  tenantId: 'acme',
  budgetMicros: 1_000_000,
  spentMicros: spent,
  periodStart: '2026-11-01T00:00:00.000Z',
  periodEnd: '2026-12-01T00:00:00.000Z',
  now,
});

describe('budget alert rules', () => {
  test('each threshold once per period, exceeded once; a new period raises them again under new ids', () => {
    const state = emptyAlertState();
    const quiet = { ...config, projectedExhaustion: false };
    assert.deepEqual(raiseDue(quiet, view(400_000), [], state), []);
    assert.deepEqual(
      raiseDue(quiet, view(850_000), [], state).map((a) => a.id),
      [
        'budget.threshold_crossed:acme:2026-11-01T00:00:00.000Z:0.5',
        'budget.threshold_crossed:acme:2026-11-01T00:00:00.000Z:0.8',
      ],
    );
    assert.deepEqual(raiseDue(quiet, view(900_000), [], state), [], 'nothing twice');
    assert.deepEqual(
      raiseDue(quiet, view(1_200_000), [], state).map((a) => a.body.type),
      ['budget.threshold_crossed', 'budget.exceeded'],
    );
    const next = {
      ...view(600_000, '2026-12-02T00:00:00.000Z'),
      periodStart: '2026-12-01T00:00:00.000Z',
      periodEnd: '2027-01-01T00:00:00.000Z',
    };
    const rolled = raiseDue(
      quiet,
      next,
      [{ start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z', spentUsd: 1.2, spendByCategory: {} }],
      state,
    );
    assert.deepEqual(
      rolled.map((a) => [a.body.type, a.body.spentUsd]),
      [
        ['budget.period_rolled', 1.2],
        ['budget.threshold_crossed', 0.6],
      ],
    );
    assert.equal(rolled[1]!.id, 'budget.threshold_crossed:acme:2026-12-01T00:00:00.000Z:0.5');
    settle(state, { id: rolled[1]!.id, status: 'sent', attempts: 2, at: '2026-12-02T00:00:01.000Z' });
    assert.equal(state.log.find((a) => a.id === rolled[1]!.id)?.status, 'sent');
  });

  test('exhaustion is projected from the burn over the window (a 24th of the period), not from the period so far', () => {
    // A 30-day period: the window is a day. 10% spent in the last 12 hours → the 80% left lasts 4 days.
    const burn = [{ at: '2026-11-09T12:00:00.000Z', spentMicros: 100_000 }];
    assert.equal(projectedExhaustion(view(200_000), burn), '2026-11-14T00:00:00.000Z');
    // The same 10% over a longer stretch (20 hours) is slower: exhaustion still before the end.
    assert.ok(
      projectedExhaustion(view(200_000), [{ at: '2026-11-09T04:00:00.000Z', spentMicros: 100_000 }])! >
        '2026-11-14T12:00:00.000Z',
    );
    // Too little time behind it (under a quarter of the window) says nothing.
    assert.equal(
      projectedExhaustion(view(200_000), [{ at: '2026-11-09T20:00:00.000Z', spentMicros: 100_000 }]),
      undefined,
    );
    // A slow burn lasts past the period's end.
    assert.equal(projectedExhaustion(view(101_000), burn), undefined);
  });

  test('what runs in flight are predicted to spend still counts as spent: the same burn runs out sooner', () => {
    const burn = [{ at: '2026-11-09T12:00:00.000Z', spentMicros: 100_000 }];
    // 10% in 12 hours, 80% left: 4 days. With 40% predicted for the runs in flight, 40% left: 2 days.
    assert.equal(projectedExhaustion({ ...view(200_000), committedMicros: 400_000 }, burn), '2026-11-12T00:00:00.000Z');
    // A slow burn that lasts past the period's end alone does not once runs in flight are counted.
    assert.equal(projectedExhaustion(view(101_000), burn), undefined);
    assert.ok(projectedExhaustion({ ...view(101_000), committedMicros: 890_000 }, burn)! < '2026-12-01');
    // Runs in flight predicted to use up all that is left: exhaustion now, with no burn behind it.
    assert.equal(projectedExhaustion({ ...view(200_000), committedMicros: 800_000 }, []), '2026-11-10T00:00:00.000Z');
    // The alert says how much it counted.
    const [alert] = raiseDue(config, { ...view(200_000), committedMicros: 800_000 }, [], emptyAlertState());
    assert.equal(alert!.body.type, 'budget.exhaustion_projected');
    assert.equal(alert!.body.committedUsd, 0.8);
    assert.equal(alert!.body.projectedExhaustionAt, '2026-11-10T00:00:00.000Z');
  });
});
