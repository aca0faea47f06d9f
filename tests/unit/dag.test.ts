import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DAG_LIMITS,
  findCycles,
  graphProblems,
  plainSpec,
  recheckDeliveryRunInput,
  validateDeliveryRunInput,
} from '../../workflows/domain/run/dag';
import { deliveryRunInputSchema } from '../../workflows/domain/run/dag-schema';

const kinds = new Set(['util.sleep', 'llm.generate']);
const node = (id: string, deps: string[] = [], kind = 'util.sleep') => ({ id, kind, deps });

describe('DAG validation', () => {
  test('a valid input gets its defaults', () => {
    const result = validateDeliveryRunInput({ tenantId: 'acme', dag: { nodes: [node('a')] } }, { knownKinds: kinds });
    assert.ok(result.ok);
    assert.equal(result.spec.priority, 3);
    assert.equal(result.spec.maxParallelism, 4);
    assert.equal(result.spec.dag.nodes[0]!.critical, true);
    assert.deepEqual(result.spec.dag.nodes[0]!.params, {});
  });

  test('a two-node cycle is reported with its path', () => {
    assert.deepEqual(graphProblems([node('a', ['b']), node('b', ['a'])]), ['cycle: a -> b -> a']);
  });

  test('a longer cycle is reported in dependency order', () => {
    const problems = graphProblems([node('a', ['c']), node('b', ['a']), node('c', ['b']), node('d', ['c'])]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$/);
  });

  test('every problem is listed at once: duplicates, unknown deps, self-deps, unknown kinds', () => {
    const result = validateDeliveryRunInput(
      {
        tenantId: 'acme',
        dag: { nodes: [node('a'), node('a'), node('b', ['ghost']), node('c', ['c']), node('d', [], 'no.such')] },
      },
      { knownKinds: kinds },
    );
    assert.ok(!result.ok);
    assert.deepEqual(result.problems.sort(), [
      'duplicate node id: a',
      'node b depends on unknown node ghost',
      'node c depends on itself',
      'node d has unknown kind no.such (known: llm.generate, util.sleep)',
    ]);
  });

  test('schema problems name the field', () => {
    const result = validateDeliveryRunInput({
      tenantId: 'Bad Tenant',
      priority: 9,
      dag: { nodes: [{ id: 'a', kind: 'util.sleep', timeoutSec: -1 }] },
    });
    assert.ok(!result.ok);
    assert.ok(result.problems.some((p) => p.startsWith('tenantId:')));
    assert.ok(result.problems.some((p) => p.startsWith('priority:')));
    assert.ok(result.problems.some((p) => p.startsWith('dag.nodes[0].timeoutSec:')));
  });

  test('unknown fields are refused rather than silently ignored', () => {
    const result = validateDeliveryRunInput({
      tenantId: 'acme',
      dag: { nodes: [{ id: 'a', kind: 'util.sleep', dependencies: ['b'] }] },
    });
    assert.ok(!result.ok);
    assert.match(result.problems.join(';'), /dependencies/);
  });

  test(`more than ${DAG_LIMITS.maxNodes} nodes is refused`, () => {
    const nodes = Array.from({ length: DAG_LIMITS.maxNodes + 1 }, (_, i) => node(`n${i}`));
    const result = validateDeliveryRunInput({ tenantId: 'acme', dag: { nodes } });
    assert.ok(!result.ok);
    assert.match(result.problems[0]!, /dag\.nodes/);
  });

  test('a 500-node chain validates without overflowing the stack', () => {
    const nodes = Array.from({ length: 500 }, (_, i) => node(`n${i}`, i > 0 ? [`n${i - 1}`] : []));
    assert.ok(validateDeliveryRunInput({ tenantId: 'acme', dag: { nodes } }, { knownKinds: kinds }).ok);
  });

  test('property: a graph whose deps point only backwards has no cycle; one edge forward from the last back to the first makes one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 120 }),
        (n, edges) => {
          const deps = Array.from({ length: n }, () => new Set<string>());
          for (const [x, y] of edges) {
            const [from, to] = [x % n, y % n];
            if (from > to) deps[from]!.add(`n${to}`);
          }
          const nodes = deps.map((d, i) => node(`n${i}`, [...d]));
          assert.deepEqual(findCycles(nodes), []);
          // Chain every node to its predecessor, then close the loop.
          const chained = nodes.map((x, i) => ({ ...x, deps: i > 0 ? [...x.deps, `n${i - 1}`] : [`n${n - 1}`] }));
          const cycles = findCycles(chained);
          assert.ok(cycles.length >= 1);
          for (const cycle of cycles) assert.equal(cycle[0], cycle.at(-1));
        },
      ),
    );
  });

  describe("a run's own check without the schema (plainSpec)", () => {
    /** Inputs near the plain form: valid ones, and ones with a field of the wrong type, range or name. */
    const anything = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -10, max: 100_000 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 5 }),
      fc.constantFrom('a', 'acme', 'Bad Id', '', 'x'.repeat(70), 'llm.generate', 'util.sleep', 'Util.Sleep'),
      fc.array(fc.constantFrom('a', 'b', 'c', 'B'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('ms', 'costUsd', 'model'), fc.jsonValue(), { maxKeys: 2 }),
    );
    const maybe = <T>(arb: fc.Arbitrary<T>) =>
      fc.option(fc.oneof({ weight: 30, arbitrary: arb }, { weight: 1, arbitrary: anything }), {
        nil: undefined,
        freq: 2,
      });
    /** Fields the plain path leaves to the schema, or that break the contract: mostly absent. */
    const rare = <T>(arb: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
    const nodeArb = fc
      .record(
        {
          id: fc.oneof({ weight: 30, arbitrary: fc.constantFrom('a', 'b', 'c') }, anything),
          kind: fc.oneof({ weight: 30, arbitrary: fc.constantFrom('util.sleep', 'llm.generate') }, anything),
          deps: maybe(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 2 })),
          params: maybe(fc.dictionary(fc.constantFrom('ms', 'costUsd', 'model'), fc.jsonValue(), { maxKeys: 3 })),
          critical: maybe(fc.boolean()),
          priority: maybe(fc.integer({ min: 0, max: 6 })),
          estimatedCostUsd: maybe(fc.double({ min: -0.1, max: 1, noNaN: true })),
          degrade: maybe(
            fc.record(
              {
                params: maybe(fc.dictionary(fc.constantFrom('ms'), fc.nat(), { maxKeys: 1 })),
                model: maybe(fc.string()),
              },
              { requiredKeys: [] },
            ),
          ),
          timeoutSec: maybe(fc.integer({ min: 0, max: 100_000 })),
          retry: rare(fc.record({ maximumAttempts: fc.integer({ min: 1, max: 3 }) })),
          extra: rare(fc.string()),
        },
        { requiredKeys: ['id', 'kind'] },
      )
      .map((n) => Object.fromEntries(Object.entries(n).filter(([, v]) => v !== undefined)));
    const inputArb = fc
      .record(
        {
          tenantId: fc.oneof({ weight: 30, arbitrary: fc.constant('acme') }, anything),
          runId: maybe(fc.constantFrom('r1', 'run-2')),
          priority: maybe(fc.integer({ min: 0, max: 6 })),
          maxParallelism: maybe(fc.integer({ min: 0, max: 70 })),
          tags: rare(fc.dictionary(fc.constantFrom('team'), fc.constantFrom('search'), { maxKeys: 1 })),
          dag: fc.oneof(
            {
              weight: 8,
              arbitrary: fc.record(
                { name: maybe(fc.string({ maxLength: 3 })), nodes: fc.array(nodeArb, { minLength: 1, maxLength: 3 }) },
                { requiredKeys: ['nodes'] },
              ),
            },
            anything,
          ),
        },
        { requiredKeys: ['tenantId', 'dag'] },
      )
      .map((i) => JSON.parse(JSON.stringify(i)) as unknown);

    test("it never accepts what the schema refuses, and gives exactly the schema's output, key order included", () => {
      let plain = 0;
      fc.assert(
        fc.property(inputArb, (input) => {
          const spec = plainSpec(input);
          if (spec === undefined) return;
          plain++;
          const parsed = deliveryRunInputSchema.safeParse(input);
          assert.ok(parsed.success, `plainSpec accepted what the schema refuses: ${JSON.stringify(input)}`);
          assert.equal(JSON.stringify(spec), JSON.stringify(parsed.data));
        }),
        { numRuns: 3000 },
      );
      assert.ok(plain > 100, `only ${plain} of 3000 generated inputs took the plain path`);
    });

    test("the shipped examples take the plain path, and the run's check answers as the validation does", () => {
      const rag = JSON.parse(readFileSync(join(__dirname, '../../examples/rag-run.json'), 'utf8')) as unknown;
      assert.ok(plainSpec(rag), 'examples/rag-run.json is plain');
      assert.deepEqual(recheckDeliveryRunInput(rag), validateDeliveryRunInput(rag));
      const tagged = { tenantId: 'acme', tags: { team: 'search' }, dag: { nodes: [node('a')] } };
      assert.equal(plainSpec(tagged), undefined, 'tags go through the schema');
      assert.deepEqual(recheckDeliveryRunInput(tagged), validateDeliveryRunInput(tagged));
      const cyclic = { tenantId: 'acme', dag: { nodes: [node('a', ['b']), node('b', ['a'])] } };
      assert.deepEqual(recheckDeliveryRunInput(cyclic, { workflowId: 'delivery-run:acme:r1' }), {
        ok: false,
        problems: ['cycle: a -> b -> a'],
      });
    });
  });
});
