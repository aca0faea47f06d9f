/**
 * `npm run test:cluster`: brings up a self-hosted Temporal cluster (Temporal Server on PostgreSQL,
 * 16 shards, mutual TLS) in a fresh directory, runs tests/cluster/*.test.ts against it, and brings it
 * down. Building the server the first time on a machine takes a few minutes; later runs reuse it.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { temporaryCluster } from '../../infra/cluster/cluster';

async function main(): Promise<number> {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);
  const {
    info: up,
    dir,
    discard,
  } = await temporaryCluster({
    prefix: 'ados-test-cluster-',
    tls: true,
    log,
    keep: Boolean(process.env.ADOS_KEEP_TEST_CLUSTER),
  });
  try {
    log(`up at ${up.address} (mutual TLS, ${up.shards} shards) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const files = readdirSync(__dirname)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join(__dirname, f));
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=900000', ...files],
        {
          stdio: 'inherit',
          env: {
            ...process.env,
            ...up.env,
            // A developer's own temporal.toml must not redirect the tests.
            TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
            ADOS_TEST_CLUSTER_DIR: dir,
            ADOS_LOG_LEVEL: process.env.ADOS_LOG_LEVEL ?? 'warn',
            ADOS_ARTIFACTS_DIR: join(dir, 'artifacts'),
          },
        },
      );
      child.on('exit', (c) => resolve(c ?? 1));
    });
    log(`tests finished in ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${code})`);
    return code;
  } finally {
    await discard();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`test:cluster: ${err.message}\n`);
    process.exit(1);
  },
);
