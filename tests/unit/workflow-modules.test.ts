import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';

const root = join(__dirname, '..', '..');

/** The files a workflow module loads when it is evaluated, as Node resolves them (a fresh process). */
function modulesLoadedBy(workflowModule: string): string[] {
  const script = `require(${JSON.stringify(workflowModule)});
process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
  return (JSON.parse(out) as string[]).map((file) => file.slice(root.length + 1));
}

// Every workflow execution evaluates the modules its type imports again (the SDK's reusable
// context gives each one a module cache of its own), so what a run imports is CPU every run pays.
describe('modules a workflow execution evaluates', () => {
  test('a delivery run loads no zod and none of the entity, learning or alert modules', () => {
    const loaded = modulesLoadedBy('./workflows/delivery-run');
    assert.ok(loaded.includes('workflows/run/delivery.ts'), 'the run module itself is loaded');
    for (const unwanted of ['node_modules/zod/', 'workflows/domain/run/dag-schema.ts', 'workflows/tenant-budget.ts'])
      assert.deepEqual(
        loaded.filter((file) => file.includes(unwanted)),
        [],
        `${unwanted} is evaluated by every run`,
      );
    assert.deepEqual(
      loaded.filter((file) => /workflows\/(meta-learning|budget-alert|tenant-entity)\.ts$/.test(file)),
      [],
    );
  });

  test('the bare workflow loads nothing of ADOS but itself', () => {
    const ados = modulesLoadedBy('./workflows/bare-dag').filter((file) => file.startsWith('workflows/'));
    assert.deepEqual(ados, ['workflows/bare-dag.ts']);
  });
});
