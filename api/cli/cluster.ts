/** `ados cluster up|down|status`: a self-hosted Temporal cluster (PostgreSQL) on this machine. */
import { Command, Option } from 'commander';
import { clusterDown, clusterStatus, clusterUp, type ClusterUpOptions } from '../../infra/cluster/cluster';
import { DEFAULT_CLUSTER_DIR } from '../../infra/cluster/layout';
import {
  readRegions,
  regionNames,
  regionsDown,
  regionsStatus,
  regionsUp,
  type RegionsInfo,
  type RegionsStatus,
} from '../../infra/cluster/regions';
import { EXIT, json, print } from './output';
import { assertCliId, int } from './args';
import { UserError } from '../../infra/user-error';

/** `ados cluster up|down|status`: a self-hosted Temporal cluster on this machine. */
export function clusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'a self-hosted Temporal cluster on this machine: Temporal Server on PostgreSQL, built from source once (docs/DEPLOYMENT.md)',
    );

  const clusterDirOption = () =>
    new Option('--dir <dir>', 'where the cluster keeps its config, certificates, data and logs').default(
      DEFAULT_CLUSTER_DIR,
      '.temporal/cluster',
    );

  cluster
    .command('up')
    .description(
      'build (first time), start PostgreSQL and Temporal Server, create the namespace and search attributes; on an existing cluster, start again every part that is down',
    )
    .addOption(clusterDirOption())
    .option('--port <port>', 'frontend gRPC port (first up; default 7233)', int('port', 1, 65535))
    .option('--pg-port <port>', 'PostgreSQL port (first up; default a free one)', int('pg port', 1, 65535))
    .option('--shards <n>', 'history shards, fixed at the first up (default 16)', int('shards', 1, 16384))
    .option('--tls', 'mutual TLS on the frontend, with a CA and certificates made under --dir')
    .option('--ui', 'also build and run the Temporal Web UI server')
    .option('--namespace <name>', 'namespace to create (first up; default "default")')
    .option(
      '--regions <names>',
      'one cluster per region (e.g. eu,us), each on its own PostgreSQL, replicating to each other, with a global namespace per placement (first up)',
    )
    .action(async (opts: Omit<ClusterUpOptions, 'log' | 'readyTimeoutMs'> & { regions?: string }) => {
      const started = Date.now();
      const log = (line: string) => !json() && process.stderr.write(`${line}\n`);
      const existingRegions = readRegions(opts.dir);
      if (opts.regions || existingRegions) {
        if (opts.namespace || opts.pgPort)
          throw new UserError(
            `${opts.namespace ? '--namespace' : '--pg-port'} does not apply to regions: each placement has its namespace, each region a free PostgreSQL port`,
            'INVALID_INPUT',
          );
        const regions = await regionsUp({
          dir: opts.dir,
          regions: opts.regions ? regionNames(opts.regions) : existingRegions!.regions,
          ...(opts.port ? { port: opts.port } : {}),
          ...(opts.shards ? { shards: opts.shards } : {}),
          ...(opts.tls ? { tls: true } : {}),
          ...(opts.ui ? { ui: true } : {}),
          log,
        });
        print({ ...regions, elapsedMs: Date.now() - started }, () => regionsText(regions, started));
        return;
      }
      const up = await clusterUp({
        ...opts,
        ...(opts.namespace ? { namespace: assertCliId('namespace', opts.namespace) } : {}),
        log,
      });
      print({ ...up, elapsedMs: Date.now() - started }, () =>
        [
          `${up.restarted.length ? `restarted ${up.restarted.join(', ')}; Temporal cluster up` : up.started ? 'Temporal cluster up' : 'Temporal cluster already up'} at ${up.address} (namespace ${up.namespace}, ${up.shards} shards${up.tls ? ', mutual TLS' : ''})${up.uiUrl ? ` · Web UI ${up.uiUrl}` : ''} · ${((Date.now() - started) / 1000).toFixed(1)} s`,
          `state in ${up.dir}; connect with:`,
          ...Object.entries(up.env).map(([k, v]) => `  export ${k}=${v}`),
        ].join('\n'),
      );
    });

  /** `ados cluster down|status`: one action on the cluster in --dir. */
  function clusterCommand(name: string, description: string, action: (dir: string) => Promise<void>): void {
    cluster
      .command(name)
      .description(description)
      .addOption(clusterDirOption())
      .action((opts: { dir: string }) => action(opts.dir));
  }

  clusterCommand(
    'down',
    'stop what `up` started (server, Web UI, PostgreSQL); the data stays for the next up',
    async (dir) => {
      if (readRegions(dir)) {
        const down = await regionsDown(dir);
        print(down, () =>
          Object.entries(down.stopped)
            .map(
              ([region, parts]) => `${region}: ${parts.length ? `stopped ${parts.join(', ')}` : 'nothing was running'}`,
            )
            .join('\n'),
        );
        return;
      }
      const down = await clusterDown(dir);
      print(down, () =>
        down.stopped.length
          ? `stopped ${down.stopped.join(', ')} (data kept in ${down.dir})`
          : `nothing was running in ${down.dir}`,
      );
    },
  );

  clusterCommand(
    'status',
    'whether the cluster in --dir is running and serving, and how to connect; for regions, each region, where each namespace is active and the replication lag',
    async (dir) => {
      if (readRegions(dir)) {
        const status = await regionsStatus(dir);
        print(status, () => regionsStatusText(status));
        if (status.regions.some((r) => !r.serving)) process.exitCode = EXIT.UNAVAILABLE;
        return;
      }
      const status = await clusterStatus(dir);
      print(status, () =>
        !status.exists
          ? `no cluster in ${status.dir} (ados cluster up creates one)`
          : `${status.serving ? 'serving' : 'not serving'} at ${status.info!.address} · server ${status.server ? 'up' : 'down'} · PostgreSQL ${status.postgres ? 'up' : 'down'}${status.info!.uiUrl ? ` · Web UI ${status.ui ? 'up' : 'down'}` : ''} · ${status.dir}`,
      );
      if (!status.serving) process.exitCode = EXIT.UNAVAILABLE;
    },
  );
}

/** What `up --regions` prints: each region and how to reach it, each placement's namespace, the replication probes. */
function regionsText(up: RegionsInfo, started: number): string {
  return [
    `Temporal regions up: ${up.regions.map((r) => `${r.name} at ${r.address}${r.uiUrl ? ` (Web UI ${r.uiUrl})` : ''}`).join(' · ')} · ${((Date.now() - started) / 1000).toFixed(1)} s`,
    'namespaces (placement: home first):',
    ...up.namespaces.map(
      (n) =>
        `  ${n.namespace.padEnd(16)} ${n.regions.join(', ')}; active in ${n.active}${up.replicationMs[n.namespace] !== undefined ? `; a run showed in its other regions in ${up.replicationMs[n.namespace]} ms` : ''}`,
    ),
    `state in ${up.dir}; connect to a region with:`,
    ...up.regions.flatMap((r) => [
      `  # ${r.name}`,
      ...Object.entries(r.env)
        .filter(([k]) => k !== 'TEMPORAL_NAMESPACE')
        .map(([k, v]) => `  export ${k}=${v}`),
    ]),
  ].join('\n');
}

function regionsStatusText(status: RegionsStatus): string {
  return [
    ...status.regions.map(
      (r) =>
        `${r.name}: ${r.serving ? 'serving' : 'not serving'}${r.info ? ` at ${r.info.address}` : ''} · server ${r.server ? 'up' : 'down'} · PostgreSQL ${r.postgres ? 'up' : 'down'}`,
    ),
    ...status.namespaces.map((n) => {
      const lag = status.replicationMs[n.namespace];
      const lags = lag
        ? `; replication ${Object.entries(lag)
            .map(([region, ms]) => `to ${region} ${ms < 0 ? 'not seen within 5 s' : `${ms} ms`}`)
            .join(', ')}`
        : '';
      return `${n.namespace}: ${n.regions.join(', ')}; active in ${n.active || 'unknown (no region of it answers)'}${lags}`;
    }),
  ].join('\n');
}
