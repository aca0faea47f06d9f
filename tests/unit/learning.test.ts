import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { learnCost, learnedEstimate, type CostModel } from '../../workflows/domain/prediction/cost-model';
import { allowedIntensity, type ShadowObservation } from '../../workflows/domain/learning/profile';
import { TenantLedger } from '../../workflows/domain/tenant/ledger';
import { learningStatusOf } from '../../workflows/domain/tenant/tenant-status';
import { tenantConfigSchema } from '../../workflows/domain/tenant/tenant-config';
import type { CostEvent } from '../../workflows/domain/tenant/entity-payloads';
import { RunPlan } from '../../workflows/domain/run/run-plan';
import { RunState } from '../../workflows/domain/run/run-state';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';

const T0 = '2026-01-01T00:00:00.000Z';
const ledger = (config: Record<string, unknown> = {}) =>
  TenantLedger.create(tenantConfigSchema.parse({ tenantId: 'acme', ...config }), T0);
const spend = (l: TenantLedger, key: string, usd: number) =>
  l.recordCosts([{ key, runId: key, nodeId: 'n', category: 'compute', costMicros: Math.round(usd * 1e6) }], T0);

const dagSpecFor = (nodes: unknown[]) => deliveryRunInputSchema.parse({ tenantId: 'acme', dag: { nodes } });

/** A deterministic pseudo-random sequence, so the workloads below are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('learned cost model', () => {
  test('the estimate converges on a workload with known costs, and its confidence grows', () => {
    const model: CostModel = {};
    const random = lcg(7);
    // The catalog prices this node at 1,000 µ$; it really costs 1,300 µ$ ± 10%.
    const cold = learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000);
    assert.equal(cold.source, 'catalog');
    assert.equal(cold.micros, 1000);
    const confidences: number[] = [];
    for (let i = 0; i < 50; i++) {
      learnCost(model, {
        kind: 'llm.generate',
        model: 'gpt-4o',
        estimateMicros: 1000,
        costMicros: Math.round(1300 * (0.9 + 0.2 * random())),
      });
      confidences.push(learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000).confidence);
    }
    const warm = learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000);
    assert.equal(warm.source, 'learned');
    assert.equal(warm.samples, 50);
    assert.ok(Math.abs(warm.micros - 1300) / 1300 < 0.03, `warm estimate ${warm.micros} within 3% of 1300`);
    // The ratio carries over to other parameter settings of the same kind and model.
    assert.ok(Math.abs(learnedEstimate(model, 'llm.generate', 'gpt-4o', 3000).micros - 3900) / 3900 < 0.03);
    assert.ok(confidences[49]! > confidences[1]!, `confidence grows: ${confidences[1]} → ${confidences[49]}`);
    assert.ok(warm.confidence > 0.8, `confidence ${warm.confidence}`);
  });

  test('a wider spread gives lower confidence at the same sample count', () => {
    const narrow: CostModel = {};
    const wide: CostModel = {};
    for (let i = 0; i < 20; i++) {
      learnCost(narrow, { kind: 'k', estimateMicros: 100, costMicros: 100 + (i % 2) });
      learnCost(wide, { kind: 'k', estimateMicros: 100, costMicros: i % 2 === 0 ? 50 : 150 });
    }
    assert.ok(
      learnedEstimate(narrow, 'k', undefined, 100).confidence > learnedEstimate(wide, 'k', undefined, 100).confidence,
    );
  });

  test('kinds the catalog cannot price are learned in absolute micro-dollars', () => {
    const model: CostModel = {};
    for (let i = 0; i < 10; i++) learnCost(model, { kind: 'custom.scrape', estimateMicros: 0, costMicros: 4200 });
    assert.deepEqual(learnedEstimate(model, 'custom.scrape', undefined, 0), {
      micros: 4200,
      confidence: 0.7692,
      samples: 10,
      spreadMicros: 210, // 10 identical samples: the ±5% floor
      source: 'learned',
    });
  });

  test('a prior stands in until the tenant has samples of its own, then gives way', () => {
    const model: CostModel = { 'llm.generate|gpt-4o': { prior: { ratio: { value: 2, weight: 3 } } } };
    assert.equal(learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000).micros, 2000);
    assert.equal(learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000).source, 'prior');
    for (let i = 0; i < 30; i++)
      learnCost(model, { kind: 'llm.generate', model: 'gpt-4o', estimateMicros: 1000, costMicros: 1000 });
    const after = learnedEstimate(model, 'llm.generate', 'gpt-4o', 1000).micros;
    assert.ok(after < 1100, `own samples dominate: ${after}`);
  });

  test('the CostAgent plan uses the learned model for nodes without estimatedCostUsd, and the hint where given', () => {
    const spec = dagSpecFor([
      { id: 'a', kind: 'util.sleep', params: { costUsd: 0.001 } },
      { id: 'b', kind: 'util.sleep', params: { costUsd: 0.001 }, estimatedCostUsd: 0.002 },
    ]);
    const plan = new RunPlan(new RunState(spec));
    const costModel: CostModel = {};
    for (let i = 0; i < 10; i++) learnCost(costModel, { kind: 'util.sleep', estimateMicros: 1000, costMicros: 1500 });
    plan.learn({ explore: false, costModel, preferences: {} });
    assert.equal(plan.estimate(spec.dag.nodes[0]!), 1500);
    assert.equal(plan.estimate(spec.dag.nodes[1]!), 2000);
  });
});

describe('learning profile', () => {
  test('intensity steps down at WARNING and CRITICAL, and a new period restores it, each change recorded with its reason', () => {
    const l = ledger({ budgetUsd: 1, periodSeconds: 3600, learning: { intensity: 'AGGRESSIVE' } });
    assert.equal(learningStatusOf(l).intensity, 'AGGRESSIVE');
    assert.equal(learningStatusOf(l).learningBudgetUsd, 0.2);
    spend(l, 'r1', 0.75);
    assert.equal(learningStatusOf(l).intensity, 'BALANCED');
    assert.equal(learningStatusOf(l).learningBudgetUsd, 0.1);
    spend(l, 'r2', 0.1);
    assert.equal(learningStatusOf(l).intensity, 'BALANCED', 'no change within WARNING');
    spend(l, 'r3', 0.1);
    assert.equal(learningStatusOf(l).intensity, 'CONSERVATIVE');
    l.rolloverIfDue('2026-01-01T01:00:00.000Z');
    assert.equal(learningStatusOf(l).intensity, 'AGGRESSIVE');
    const changes = learningStatusOf(l).history.filter((e) => e.type === 'intensity');
    assert.deepEqual(
      changes.map((e) => [e.type === 'intensity' && e.from, e.type === 'intensity' && e.to, e.reason]),
      [
        ['AGGRESSIVE', 'BALANCED', 'budget status WARNING'],
        ['BALANCED', 'CONSERVATIVE', 'budget status CRITICAL'],
        ['CONSERVATIVE', 'AGGRESSIVE', 'new budget period'],
      ],
    );
    assert.deepEqual(
      changes.map((e) => e.seq),
      [1, 2, 3],
    );
  });

  test('the WARNING step is one level below the configured intensity', () => {
    assert.equal(allowedIntensity('AGGRESSIVE', 'WARNING'), 'BALANCED');
    assert.equal(allowedIntensity('BALANCED', 'WARNING'), 'CONSERVATIVE');
    assert.equal(allowedIntensity('CONSERVATIVE', 'WARNING'), 'CONSERVATIVE');
    assert.equal(allowedIntensity('BALANCED', 'EXCEEDED'), 'CONSERVATIVE');
    assert.equal(allowedIntensity('AGGRESSIVE', 'HEALTHY'), 'AGGRESSIVE');
  });

  test('runs explore at the intensity rate: half the AGGRESSIVE runs, a fifth of the BALANCED ones, no CONSERVATIVE one', () => {
    for (const [intensity, expected] of [
      ['AGGRESSIVE', 10],
      ['BALANCED', 4],
      ['CONSERVATIVE', 0],
    ] as const) {
      const l = ledger({ budgetUsd: 100, maxConcurrentRuns: 100, learning: { intensity } });
      let explored = 0;
      for (let i = 0; i < 20; i++) {
        const d = l.requestAdmission({ runId: `r${i}`, workflowId: `w${i}`, priority: 3 }, T0);
        if (d.kind === 'ADMITTED' && d.learning?.explore) explored++;
      }
      assert.equal(explored, expected, intensity);
    }
  });

  test('property: whatever shadows ask and spend, learning spend never exceeds the learning share', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('CONSERVATIVE', 'BALANCED', 'AGGRESSIVE'),
        fc.array(
          fc.record({
            ask: fc.integer({ min: 1, max: 50_000 }),
            spendShare: fc.double({ min: 0, max: 1, noNaN: true }),
            other: fc.integer({ min: 0, max: 40_000 }),
          }),
          { maxLength: 60 },
        ),
        (intensity, shadows) => {
          const l = ledger({ budgetUsd: 1, learning: { intensity } });
          const share = { CONSERVATIVE: 0.05, BALANCED: 0.1, AGGRESSIVE: 0.2 }[intensity];
          shadows.forEach((s, i) => {
            const granted = l.requestExploration(
              { explorationId: `x${i}`, workflowId: 'w', runId: `r${i}`, nodeId: 'g', requestMicros: s.ask },
              T0,
            );
            if (intensity === 'CONSERVATIVE') assert.equal(granted, 0, 'CONSERVATIVE never explores');
            // A shadow spends at most its grant: its LLM call and evaluations are capped by max_cost_usd.
            const costs: CostEvent[] =
              granted > 0
                ? [
                    {
                      key: `r${i}/g/shadow`,
                      runId: `r${i}`,
                      nodeId: 'g',
                      category: 'learning',
                      costMicros: Math.floor(granted * s.spendShare),
                    },
                  ]
                : [];
            l.settleExploration({ explorationId: `x${i}`, runId: `r${i}`, nodeId: 'g', costs }, T0);
            spend(l, `real-${i}`, s.other / 1e6);
            const status = learningStatusOf(l);
            // The share in force may have dropped with the budget status; spend stays within the configured one.
            assert.ok(status.learningSpentUsd <= share + 1e-9, `learning spent ${status.learningSpentUsd} ≤ ${share}`);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a cheaper model is preferred once it proved itself over enough samples, and dropped when later evidence disagrees', () => {
    const l = ledger({ budgetUsd: 10, learning: { intensity: 'AGGRESSIVE', minSamples: 3, qualityTolerance: 0.05 } });
    const shadow = (i: number, qualityShadow: number) => {
      const id = `x${i}`;
      assert.ok(
        l.requestExploration(
          { explorationId: id, workflowId: 'w', runId: `r${i}`, nodeId: 'g', requestMicros: 1000 },
          T0,
        ) > 0,
      );
      const observation: ShadowObservation = {
        kind: 'llm.generate',
        fromModel: 'gpt-4o',
        toModel: 'gpt-4o-mini',
        qualityFull: 0.8,
        qualityShadow,
        costFullMicros: 10_000,
        costShadowMicros: 600,
      };
      l.settleExploration(
        {
          explorationId: id,
          runId: `r${i}`,
          nodeId: 'g',
          costs: [{ key: `r${i}/g/shadow`, runId: `r${i}`, nodeId: 'g', category: 'llm', costMicros: 600 }],
          observation,
        },
        T0,
      );
    };
    shadow(1, 0.79);
    shadow(2, 0.78);
    assert.equal(learningStatusOf(l).preferences.length, 0, 'two samples are not enough');
    shadow(3, 0.8);
    const [preference] = learningStatusOf(l).preferences;
    assert.equal(preference?.toModel, 'gpt-4o-mini');
    assert.equal(preference?.evidence.samples, 3);
    assert.equal(
      learningStatusOf(l).learningSpentUsd,
      0.0018,
      'shadow costs are charged to learning whatever their category',
    );
    const adopted = learningStatusOf(l).history.find((e) => e.type === 'preference');
    assert.match(adopted!.reason, /gpt-4o-mini scored 0\.79 vs 0\.8 .* over 3 samples .* at 6% of the cost/);
    shadow(4, 0.3);
    shadow(5, 0.3);
    assert.equal(learningStatusOf(l).preferences.length, 0, 'withdrawn');
    assert.equal(learningStatusOf(l).history.filter((e) => e.type === 'preference').length, 2);
  });

  test('the learning state survives continue-as-new: a ledger rebuilt from its serialised state learns and decides the same', () => {
    const l = ledger({ budgetUsd: 10, learning: { intensity: 'AGGRESSIVE', minSamples: 1 } });
    for (let i = 0; i < 7; i++) {
      l.recordCosts(
        [
          {
            key: `r${i}/g`,
            runId: `r${i}`,
            nodeId: 'g',
            category: 'llm',
            costMicros: 1200 + i,
            kind: 'llm.generate',
            model: 'gpt-4o',
            estimateMicros: 1000,
          },
        ],
        T0,
      );
      l.requestAdmission({ runId: `r${i}`, workflowId: `w${i}`, priority: 3 }, T0);
    }
    l.requestExploration({ explorationId: 'open', workflowId: 'w', runId: 'r0', nodeId: 'g', requestMicros: 500 }, T0);
    // What continueAsNew does with the state: a JSON round trip into the next run's input.
    const next = new TenantLedger(JSON.parse(JSON.stringify(l.state)));
    assert.deepEqual(learningStatusOf(next), learningStatusOf(l));
    const admit = (x: TenantLedger) => x.requestAdmission({ runId: 'new', workflowId: 'wn', priority: 3 }, T0);
    assert.deepEqual(admit(next), admit(l), 'same exploration turn, same cost model sent to the run');
    assert.equal(learningStatusOf(next).learningReservedUsd, 0.0005, 'an open shadow grant stays reserved');
  });

  test('a run of the tenant takes the proven model as its full model, and records the switch with its evidence', () => {
    const spec = dagSpecFor([{ id: 'gen', kind: 'llm.generate', params: { model: 'gpt-4.1', prompt: 'x' } }]);
    const plan = new RunPlan(new RunState(spec));
    const evidence = { samples: 5, qualityFull: 0.8, qualityShadow: 0.8, costFullUsd: 0.01, costShadowUsd: 0.002 };
    const choices = plan.learn({
      explore: false,
      costModel: {},
      preferences: {
        'llm.generate|gpt-4.1': {
          kind: 'llm.generate',
          fromModel: 'gpt-4.1',
          toModel: 'gpt-4.1-mini',
          since: T0,
          evidence,
        },
        'llm.generate|gpt-4.1-mini': {
          kind: 'llm.generate',
          fromModel: 'gpt-4.1-mini',
          toModel: 'gpt-4.1-nano',
          since: T0,
          evidence,
        },
      },
    });
    assert.deepEqual(
      choices.map((c) => `${c.fromModel}>${c.toModel}`),
      ['gpt-4.1>gpt-4.1-mini', 'gpt-4.1-mini>gpt-4.1-nano'],
    );
    assert.equal(plan.variant(spec.dag.nodes[0]!).model, 'gpt-4.1-nano');
    assert.equal(plan.variant(spec.dag.nodes[0]!).params.model, 'gpt-4.1-nano');
  });
});
