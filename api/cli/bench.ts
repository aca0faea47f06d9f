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
    .action(async (opts: { quick?: boolean }) => {
      // Loaded on demand: the suite pulls in every scenario.
      const { runBenchSuite } = await import('../../bench/suite');
      const { stopBenchCluster } = await import('../../bench/target');
      await runBenchSuite({ quick: Boolean(opts.quick) }).finally(stopBenchCluster);
      // Timers of runs the bench gave up on must not keep the command alive.
      process.exit(0);
    });
}
