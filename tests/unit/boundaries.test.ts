import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';

const REPO = join(__dirname, '..', '..');
const FOLDERS = ['workflows', 'infra', 'activities', 'workers', 'api', 'examples', 'testkit', 'types'];

/** A copy of the source tree that a test may break; dependency-cruiser and its rules as the project has them. */
function copyOfTheTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ados-boundaries-'));
  for (const folder of FOLDERS) cpSync(join(REPO, folder), join(dir, folder), { recursive: true });
  for (const file of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json'])
    cpSync(join(REPO, file), join(dir, file));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** `npm run lint:boundaries` on the copy: its exit status and what it printed. */
function lintBoundaries(dir: string): { status: number | null; output: string } {
  const run = spawnSync('npm', ['run', '--silent', 'lint:boundaries'], { cwd: dir, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('folder boundaries (npm run lint:boundaries)', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  test('an arrow that runs back up (infra importing workers) fails lint, naming the layer rule', () => {
    const dir = copyOfTheTree();
    dirs.push(dir);
    assert.equal(lintBoundaries(dir).status, 0, 'the copy as it is passes');
    writeFileSync(
      join(dir, 'infra', 'reaches-up.ts'),
      "import { startAdosWorkers } from '../workers/ados-worker';\nexport const up = startAdosWorkers;\n",
    );
    const { status, output } = lintBoundaries(dir);
    assert.notEqual(status, 0, output);
    assert.match(output, /layers: infra imports nothing above it: infra\/reaches-up\.ts → workers\/ados-worker\.ts/);
  });

  test('a cycle between two modules fails lint, naming the cycle rule and both modules', () => {
    const dir = copyOfTheTree();
    dirs.push(dir);
    writeFileSync(
      join(dir, 'workflows', 'domain', 'ping.ts'),
      "import { pong } from './pong';\nexport const ping = () => pong;\n",
    );
    writeFileSync(
      join(dir, 'workflows', 'domain', 'pong.ts'),
      "import { ping } from './ping';\nexport const pong = () => ping;\n",
    );
    const { status, output } = lintBoundaries(dir);
    assert.notEqual(status, 0, output);
    assert.match(output, /no-cycle: workflows\/domain\/ping\.ts →\s+workflows\/domain\/pong\.ts/);
  });
});

describe('the house', () => {
  /** Every .ts source file under `dir`, but declarations and built packages. */
  function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory())
        return ['node_modules', 'dist', 'results', 'fixtures'].includes(entry.name) ? [] : sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
    });
  }

  test('every source file opens with a comment naming its concept', () => {
    const files = [...FOLDERS, 'bench'].flatMap((folder) => sources(join(REPO, folder)));
    assert.ok(files.length > 150, `${files.length} files`);
    const bare = files
      .filter((file) => !/^(\/\*\*|\/\/)/.test(readFileSync(file, 'utf8')))
      .map((f) => relative(REPO, f));
    assert.deepEqual(bare, []);
  });
});
