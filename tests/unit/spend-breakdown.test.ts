import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TenantLedger } from '../../workflows/domain/tenant/ledger';
import { tenantConfigSchema } from '../../workflows/domain/tenant/tenant-config';
import { tenantStatusOf } from '../../workflows/domain/tenant/tenant-status';
import { SERIES_POINTS, addSpendPoint, emptyBreakdown } from '../../workflows/domain/tenant/spend-breakdown';
import type { CostEvent } from '../../workflows/domain/tenant/entity-payloads';

const T0 = '2026-12-05T00:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const charge = (key: string, costMicros: number, model?: string, tags?: Record<string, string>): CostEvent => ({
  key,
  runId: key,
  nodeId: 'n',
  category: model ? 'llm' : 'compute',
  costMicros,
  ...(model ? { model } : {}),
  ...(tags ? { tags } : {}),
});

describe('spend by model, tag and over time', () => {
  test('each charge once, by its model and its run’s tags; the series follows the period’s spend; a new period starts over', () => {
    const ledger = TenantLedger.create(
      tenantConfigSchema.parse({ tenantId: 'acme', budgetUsd: 1, period: 'daily', periodSeconds: 3600 }),
      T0,
    );
    ledger.recordCosts([charge('a', 1200, 'gpt-4o', { team: 'search' }), charge('b', 300)], at(10));
    ledger.recordCosts([charge('a', 1200, 'gpt-4o', { team: 'search' })], at(20));
    ledger.recordCosts([charge('c', 500, 'gpt-4o-mini', { team: 'ads', env: 'prod' })], at(30));
    const s = tenantStatusOf(ledger);
    assert.deepEqual(s.spendByModel, { 'gpt-4o': 0.0012, '(none)': 0.0003, 'gpt-4o-mini': 0.0005 });
    assert.deepEqual(s.spendByTag, { 'team=search': 0.0012, 'team=ads': 0.0005, 'env=prod': 0.0005 });
    assert.deepEqual(s.spendSeries, [
      { at: T0, spentUsd: 0 },
      { at: at(10), spentUsd: 0.0015 },
      { at: at(30), spentUsd: 0.002 },
    ]);
    const sum = (xs: Record<string, number>) => Math.round(Object.values(xs).reduce((a, b) => a + b, 0) * 1e6);
    assert.equal(sum(s.spendByModel), Math.round(s.spentUsd * 1e6), 'by model adds up to the spend');
    ledger.rolloverIfDue(at(3600));
    ledger.recordCosts([charge('d', 700, 'gpt-4o')], at(3700));
    const next = tenantStatusOf(ledger);
    assert.deepEqual(next.spendByModel, { 'gpt-4o': 0.0007 });
    assert.deepEqual(next.spendSeries, [
      { at: at(3600), spentUsd: 0 },
      { at: at(3700), spentUsd: 0.0007 },
    ]);
  });

  test('the series stays within its points, keeping the period’s start and the newest, whatever the activity', () => {
    const b = emptyBreakdown(T0);
    for (let i = 1; i <= 1000; i++) addSpendPoint(b, at(i * 2), i);
    assert.ok(b.series.length <= SERIES_POINTS, `${b.series.length} points`);
    assert.deepEqual(b.series[0], [T0, 0]);
    assert.deepEqual(b.series[b.series.length - 1], [at(2000), 1000]);
    assert.ok(
      b.series.every((p, i) => i === 0 || p[0] > b.series[i - 1]![0]),
      'in order',
    );
    // Charges within a second move the last point.
    addSpendPoint(b, at(2000.5), 1001);
    assert.deepEqual(b.series[b.series.length - 1], [at(2000), 1001]);
  });
});
