/** `ados region failover`: moves the namespaces active in one region to another, gracefully or by force. */
import { Command, Option } from 'commander';
import { DEFAULT_CLUSTER_DIR } from '../../infra/cluster/layout';
import { failoverRegion } from '../../infra/cluster/regions';
import { json, print } from './output';

export function regionCommands(program: Command): void {
  const region = program
    .command('region')
    .description('the regions of `ados cluster up --regions`: failover (docs/DEPLOYMENT.md, Regions)');
  region
    .command('failover')
    .description(
      'make <to> active for every namespace active in <from> whose placement includes <to>: a graceful handover (nothing lost), or with --force when <from> is gone',
    )
    .argument('<from>', 'the region whose namespaces move')
    .requiredOption('--to <region>', 'the region that becomes active for them')
    .option('--force', '<from> is lost: make <to> active from its own copy at once, without a handover')
    .addOption(
      new Option('--dir <dir>', 'the regions directory of ados cluster up --regions').default(
        DEFAULT_CLUSTER_DIR,
        '.temporal/cluster',
      ),
    )
    .action(async (from: string, opts: { to: string; force?: boolean; dir: string }) => {
      const started = Date.now();
      const result = await failoverRegion({
        dir: opts.dir,
        from,
        to: opts.to,
        ...(opts.force ? { force: true } : {}),
        log: (line) => !json() && process.stderr.write(`${line}\n`),
      });
      print({ ...result, elapsedMs: Date.now() - started }, () =>
        [
          `${result.force ? 'forced failover' : 'handover'} ${from} → ${opts.to}: ${result.moved.length ? result.moved.map((m) => `${m.namespace} (${m.ms} ms)`).join(', ') : 'no namespace was active in ' + from}`,
          ...(result.stayed.length
            ? [`stay with ${from} (their placement excludes ${opts.to}): ${result.stayed.join(', ')}`]
            : []),
        ].join('\n'),
      );
    });
}
