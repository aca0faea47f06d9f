/** A cluster's files on disk and its state. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TEMPORAL_HOME } from '../temporal-cli';
import { environment } from '../config';

/** The Temporal Server release `ados cluster` builds and runs, and the Web UI server that matches it. */
export const TEMPORAL_SERVER_VERSION = 'v1.32.2';
export const UI_SERVER_VERSION = 'v2.54.1';

/** Binaries are built once per machine, outside any clone: `$ADOS_CLUSTER_CACHE`, else ~/.cache/ados/cluster. */
export function buildCacheDir(env: NodeJS.ProcessEnv = environment()): string {
  if (env.ADOS_CLUSTER_CACHE) return resolve(env.ADOS_CLUSTER_CACHE);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'ados', 'cluster');
}

/** A cluster's state (config, certificates, PostgreSQL data, logs) lives here unless `--dir` says otherwise. */
export const DEFAULT_CLUSTER_DIR = join(TEMPORAL_HOME, 'cluster');

/** What `up` chose once and every later `up`, `down` and `status` reuse. */
export interface ClusterState {
  version: 1;
  dir: string;
  namespace: string;
  shards: number;
  tls: boolean;
  ui: boolean;
  ports: {
    frontend: number;
    frontendHttp: number;
    frontendMembership: number;
    history: number;
    historyMembership: number;
    matching: number;
    matchingMembership: number;
    worker: number;
    workerMembership: number;
    postgres: number;
    ui: number;
    metrics: number;
  };
  /** The server (and UI server) processes `up` started; PostgreSQL is pg_ctl's. */
  pids: { server?: number; ui?: number };
  /**
   * A cluster that is one region of several (`ados cluster up --regions`): its cluster name and
   * initial failover version. Its namespaces may be global, replicated to the other regions.
   */
  region?: RegionIdentity;
  /** Where its certificates are, when not under its own directory (the regions of one deployment share a CA). */
  certsDir?: string;
}

export interface RegionIdentity {
  /** The region's name, which is its Temporal cluster name (`eu`, `us`, …). */
  name: string;
  /** Distinct per region, below the failover version increment (10). */
  initialFailoverVersion: number;
}

/** Every region's clusters use the same increment; each region's initial version is below it. */
export const FAILOVER_VERSION_INCREMENT = 10;

export function clusterPaths(dir: string) {
  const root = resolve(dir);
  return {
    root,
    state: join(root, 'cluster.json'),
    config: join(root, 'temporal.yaml'),
    dynamicConfig: join(root, 'dynamic-config.yaml'),
    uiConfigDir: join(root, 'ui'),
    pgData: join(root, 'postgres'),
    certs: join(root, 'certs'),
    logs: join(root, 'logs'),
  };
}

export function readState(dir: string): ClusterState | undefined {
  const file = clusterPaths(dir).state;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

export function writeState(state: ClusterState): void {
  writeJsonFile(clusterPaths(state.dir).state, state);
}

/** A state file written whole or not at all: to a temporary file beside it, then renamed over it. */
export function writeJsonFile(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
