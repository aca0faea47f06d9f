/** `ados bench`: runs the benchmark suite. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';

import { int } from './args';

/** `ados bench`: the benchmark suite. */
export function benchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'measure ADOS against bare Temporal on a fresh dev server (or any server, or a cluster it brings up); writes bench/results/latest.{json,md} and chart.svg',
    )
    .option('--quick', 'small scenarios, under 3 minutes')
    // Read by bench/target.ts from the command line.
    .option('--address <host:port>', 'measure on this running server (TEMPORAL_TLS_* and TEMPORAL_API_KEY apply)')
    .option('--cluster', 'bring up a self-hosted cluster (ados cluster up) for the run, and down after')
    .option(
      '--node-processes <n>',
      'engine bench: a control process and n node-worker processes',
      int('node processes', 0, 16),
    )
    .action(() => {
      // The suite is a program of its own (`npm run bench`), run with this command's flags: the CLI
      // does not load the bench's code.
      const bench = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(__dirname, '..', '..', 'bench', 'run.ts'), ...process.argv.slice(3)],
        { stdio: 'inherit' },
      );
      process.exit(bench.status ?? 1);
    });
}
