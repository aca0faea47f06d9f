import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { REPO } from '../../testkit/docs';
import { useTestEnvWithWorkers } from '../../testkit/temporal';

const exec = promisify(execFile);
const env = useTestEnvWithWorkers();
const PACKAGE_DIR = join(REPO, 'api', 'client', 'package');

/** Bytes of every file under `dir` (what the installed packages take on disk, before block rounding). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** A program as a user writes it, in plain JavaScript (ESM): it imports the installed package by name. */
const PROGRAM = `
import { AdosClient, AdosError } from 'ados-client';

const ados = await AdosClient.connect();
try {
  await ados.configureTenant('packaged', { budgetUsd: 2, maxConcurrentRuns: 2 });
  const run = {
    tenantId: 'packaged',
    runId: 'from-the-package',
    dag: {
      nodes: [
        { id: 'a', kind: 'util.sleep', params: { ms: 10, costUsd: 0.25 } },
        { id: 'b', kind: 'util.sleep', params: { ms: 10, costUsd: 0.5 }, deps: ['a'] },
      ],
    },
  };
  const quote = await ados.quote(run);
  const started = await ados.startRun(run);
  const result = await ados.runResult('packaged', started.runId);
  // The run's charges reach its tenant in a batch from the worker, just after its result.
  let status = await ados.tenantStatus('packaged');
  for (let i = 0; i < 150 && status.runsInFlight.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = await ados.tenantStatus('packaged');
  }
  const invalid = await ados.startRun({ tenantId: 'packaged', dag: { nodes: [] } }).catch((e) => e);
  console.log(JSON.stringify({
    quoteP50: quote.p50Usd,
    admission: started.admission.status,
    status: result.status,
    costUsd: result.costUsd,
    spentUsd: status.spentUsd,
    invalid: { isAdosError: invalid instanceof AdosError, code: invalid.code },
  }));
} finally {
  await ados.close();
}
`;

describe('the ados-client package', () => {
  let scratch: string;
  let tarball: string;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'ados-client-'));
    // npm pack builds it first (its prepack script): bundled JavaScript and declarations.
    const { stdout } = await exec('npm', ['pack', '--silent', '--pack-destination', scratch], {
      cwd: PACKAGE_DIR,
      timeout: 180_000,
    });
    tarball = join(scratch, stdout.trim().split('\n').at(-1)!);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // From the registry (or npm's cache, filled by the project's own install), as a user installs it.
    await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: scratch,
      timeout: 300_000,
    });
  });

  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('installed from its packed tarball into a fresh project, a plain-node program starts a run and reads its result', async () => {
    writeFileSync(join(scratch, 'program.js'), PROGRAM);
    const { stdout } = await exec(process.execPath, ['program.js'], {
      cwd: scratch,
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, ADOS_LOG_LEVEL: 'error' },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual(out, {
      quoteP50: 0.75,
      admission: 'ADMITTED',
      status: 'COMPLETED',
      costUsd: 0.75,
      spentUsd: 0.75,
      invalid: { isAdosError: true, code: 'INVALID_INPUT' },
    });
  });

  test('it installs only what a client needs, under 60 MB: no worker, server or model runtime', () => {
    const installed = readdirSync(join(scratch, 'node_modules')).flatMap((name) =>
      name.startsWith('@') ? readdirSync(join(scratch, 'node_modules', name)).map((n) => `${name}/${n}`) : [name],
    );
    for (const absent of ['@temporalio/worker', '@temporalio/core-bridge', 'fastify', 'node-llama-cpp', 'pino', 'tsx'])
      assert.ok(!installed.includes(absent), `${absent} is not installed`);
    const bytes = bytesUnder(join(scratch, 'node_modules'));
    process.stdout.write(
      `# ados-client: tarball ${statSync(tarball).size} B; installed ${installed.length} packages, ${(bytes / 1e6).toFixed(1)} MB\n`,
    );
    assert.ok(bytes < 60e6, `installed ${bytes} B`);
    // Its dependencies are the project's own versions, so the package and the project cannot drift apart.
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const [name, version] of Object.entries(pkg.dependencies))
      assert.equal(version, root.dependencies[name], name);
  });

  test('its declarations type-check a TypeScript program (examples/ts-client.ts) against the installed package', async () => {
    copyFileSync(join(REPO, 'examples', 'ts-client.ts'), join(scratch, 'ts-client.ts'));
    await exec(
      process.execPath,
      [
        join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--target',
        'es2022',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--typeRoots',
        join(REPO, 'node_modules', '@types'),
        '--types',
        'node',
        'ts-client.ts',
      ],
      { cwd: scratch, timeout: 120_000 },
    ).catch((err: { stdout?: string }) => assert.fail(`tsc: ${err.stdout}`));
  });
});
