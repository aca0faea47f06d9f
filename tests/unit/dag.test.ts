import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DAG_LIMITS, findCycles, graphProblems, validateDeliveryRunInput } from '../../workflows/policy/dag';

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
});
