/** `ados cluster up|down|status`: a self-hosted Temporal cluster (PostgreSQL) on this machine. */
import { Command, Option } from 'commander';
import { clusterDown, clusterStatus, clusterUp, type ClusterUpOptions } from '../../infra/cluster/cluster';
import { DEFAULT_CLUSTER_DIR } from '../../infra/cluster/layout';
import { EXIT, json, print } from './output';
import { assertCliId, int } from './args';

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
    .action(async (opts: Omit<ClusterUpOptions, 'log' | 'readyTimeoutMs'>) => {
      const started = Date.now();
      const up = await clusterUp({
        ...opts,
        ...(opts.namespace ? { namespace: assertCliId('namespace', opts.namespace) } : {}),
        log: (line) => !json() && process.stderr.write(`${line}\n`),
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
      const down = await clusterDown(dir);
      print(down, () =>
        down.stopped.length
          ? `stopped ${down.stopped.join(', ')} (data kept in ${down.dir})`
          : `nothing was running in ${down.dir}`,
      );
    },
  );

  clusterCommand('status', 'whether the cluster in --dir is running and serving, and how to connect', async (dir) => {
    const status = await clusterStatus(dir);
    print(status, () =>
      !status.exists
        ? `no cluster in ${status.dir} (ados cluster up creates one)`
        : `${status.serving ? 'serving' : 'not serving'} at ${status.info!.address} · server ${status.server ? 'up' : 'down'} · PostgreSQL ${status.postgres ? 'up' : 'down'}${status.info!.uiUrl ? ` · Web UI ${status.ui ? 'up' : 'down'}` : ''} · ${status.dir}`,
    );
    if (!status.serving) process.exitCode = EXIT.UNAVAILABLE;
  });
}
