/** A self-hosted cluster: up, down and status. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporalAnswers } from '../dev-server';
import { freePortIn, portIsFree } from '../ports';
import { UserError } from '../user-error';
import { ensureClusterBinaries } from './build';
import { clusterPaths, readState, writeState, type ClusterState, type RegionIdentity } from './layout';
import {
  applySchemas,
  findPostgresBin,
  initPostgres,
  startPostgres,
  stopPostgres,
  postgresRunning,
  type Postgres,
} from './postgres';
import { writeServerConfig, writeUiConfig } from './server-config';
import { answersWithin, waitReady } from './readiness';
import { certsOf, clusterEnv, clusterTarget } from './target';
import { pidAlive, spawnDetached, stopPid } from './processes';
export { clusterTarget } from './target';

export interface ClusterUpOptions {
  dir: string;
  /** Frontend gRPC port. @default 7233 the first time, then what the cluster has */
  port?: number;
  /** PostgreSQL port. @default a free one the first time, then what the cluster has */
  pgPort?: number;
  /** History shards; fixed once the cluster has first started. @default 16 */
  shards?: number;
  tls?: boolean;
  ui?: boolean;
  /** @default 'default' */
  namespace?: string;
  log?: (line: string) => void;
  /** How long to wait for the server to accept a workflow. @default 180000 */
  readyTimeoutMs?: number;
  /** This cluster is one region of several (first up only; infra/cluster/regions.ts). */
  region?: RegionIdentity;
  /** Its certificates' directory, shared by the regions of one deployment (first up only). */
  certsDir?: string;
}

export interface ClusterInfo {
  address: string;
  namespace: string;
  uiUrl: string | null;
  dir: string;
  /** True if this call started the server; false if it was already running. */
  started: boolean;
  /** The parts this call found down and started again: `postgres`, `temporal-server`, `web-ui`. */
  restarted: string[];
  tls: boolean;
  /** What a client sets to reach the cluster (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and, with TLS, the TEMPORAL_TLS_* files). */
  env: Record<string, string>;
  shards: number;
  postgresPort: number;
}

function postgresOf(state: ClusterState, bin = findPostgresBin()): Postgres {
  const paths = clusterPaths(state.dir);
  return { bin, data: paths.pgData, port: state.ports.postgres, logFile: join(paths.logs, 'postgres.log') };
}

function info(state: ClusterState, started: boolean, restarted: string[] = []): ClusterInfo {
  return {
    address: `127.0.0.1:${state.ports.frontend}`,
    namespace: state.namespace,
    uiUrl: state.ui ? `http://127.0.0.1:${state.ports.ui}` : null,
    dir: state.dir,
    started,
    restarted,
    tls: state.tls,
    env: clusterEnv(state),
    shards: state.shards,
    postgresPort: state.ports.postgres,
  };
}

async function newState(options: ClusterUpOptions): Promise<ClusterState> {
  const frontend = options.port ?? 7233;
  const taken = new Set<number>([frontend, ...(options.pgPort ? [options.pgPort] : [])]);
  const pick = async () => {
    const port = await freePortIn(20_000, 32_000, taken);
    taken.add(port);
    return port;
  };
  return {
    version: 1,
    dir: clusterPaths(options.dir).root,
    namespace: options.namespace ?? 'default',
    shards: options.shards ?? 16,
    tls: Boolean(options.tls),
    ui: Boolean(options.ui),
    ports: {
      frontend,
      frontendHttp: await pick(),
      frontendMembership: await pick(),
      history: await pick(),
      historyMembership: await pick(),
      matching: await pick(),
      matchingMembership: await pick(),
      worker: await pick(),
      workerMembership: await pick(),
      postgres: options.pgPort ?? (await pick()),
      ui: await pick(),
      metrics: await pick(),
    },
    pids: {},
    ...(options.region ? { region: options.region } : {}),
    ...(options.certsDir ? { certsDir: options.certsDir } : {}),
  };
}

/**
 * Brings a cluster up (building what is missing, then PostgreSQL, schemas, config, server, namespace,
 * search attributes, optionally the Web UI) and returns when a workflow can start. On a cluster that
 * exists, it heals: every part that is down (PostgreSQL, the server, the Web UI) is started again,
 * a server that runs but does not answer is restarted, and the answer names what was restarted; a
 * cluster whose parts all run is left as it is.
 */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterInfo> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const existing = readState(options.dir);
  if (existing && options.shards !== undefined && options.shards !== existing.shards)
    throw new UserError(
      `this cluster has ${existing.shards} history shards, fixed at its first start; --shards ${options.shards} needs a new --dir (or ados cluster down --delete)`,
    );
  if (existing && options.tls !== undefined && options.tls !== existing.tls) {
    if (pidAlive(existing.pids.server))
      throw new UserError(
        `the cluster runs ${existing.tls ? 'with' : 'without'} TLS; run ados cluster down, then up ${options.tls ? '--tls' : 'without --tls'}`,
        'CONFLICT',
      );
    existing.tls = options.tls;
  }
  for (const [flag, given, has] of [
    ['--port', options.port, existing?.ports.frontend],
    ['--pg-port', options.pgPort, existing?.ports.postgres],
  ] as const)
    if (existing && given !== undefined && given !== has)
      throw new UserError(`this cluster uses ${flag} ${has}; a different ${flag} needs a new --dir`);
  if (existing && options.ui) existing.ui = true;
  const state = existing ?? (await newState(options));
  const restarted = existing ? await heal(existing, log) : [];
  if (existing && pidAlive(existing.pids.server)) {
    writeState(state);
    return info(state, false, restarted);
  }
  for (const [name, port] of [
    ['--port (frontend)', state.ports.frontend],
    ['--pg-port (PostgreSQL)', state.ports.postgres],
  ] as const)
    if (!(await portIsFree(port)) && !(name.startsWith('--pg') && existing && postgresRunning(postgresOf(state))))
      throw new UserError(
        `port ${port} is taken (${name}): stop what listens there (an ados dev server?) or pass another ${name.split(' ')[0]}`,
        'UNAVAILABLE',
      );
  const binaries = await ensureClusterBinaries({ ui: state.ui, log });
  const paths = clusterPaths(state.dir);
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.uiConfigDir, { recursive: true });
  const pg = postgresOf(state);
  initPostgres(pg);
  startPostgres(pg);
  applySchemas(pg, binaries.sqlTool);
  const certs = certsOf(state);
  writeServerConfig(state, certs);
  writeState(state);
  const serverLog = join(paths.logs, 'temporal.log');
  state.pids.server = spawnDetached(
    binaries.server,
    ['--config-file', paths.config, '--allow-no-auth', 'start'],
    serverLog,
    paths.root,
  );
  writeState(state);
  log(
    `Temporal Server ${state.shards} shards, PostgreSQL on :${state.ports.postgres}${state.tls ? ', mutual TLS' : ''}; waiting for it to accept workflows ...`,
  );
  await waitReady(state, options.readyTimeoutMs ?? 180_000, serverLog);
  if (existing) restarted.push('temporal-server');
  if (state.ui && !pidAlive(state.pids.ui)) {
    await startUi(state, log, binaries.uiServer);
    if (existing) restarted.push('web-ui');
  }
  writeState(state);
  return info(state, true, restarted);
}

/** How long a running server gets to answer again once its database is back, before it is restarted. */
const SERVER_RECOVERY_MS = 60_000;
/** How long a running server on a running database gets to answer before it counts as stuck. */
const SERVER_ANSWER_MS = 10_000;

/**
 * PostgreSQL started again after its postmaster died: the backends it left behind exit on their
 * own within moments, but until they have, the new postmaster refuses the shared memory they hold.
 */
async function startPostgresAfterCrash(pg: Postgres): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      startPostgres(pg);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * An existing cluster's parts brought back: PostgreSQL started if it is down (the server reconnects
 * by itself), a server that still does not answer stopped (the caller then starts it), the Web UI
 * started if it should run. Returns what it restarted; the server's restart is the caller's.
 */
async function heal(state: ClusterState, log: (line: string) => void): Promise<string[]> {
  const restarted: string[] = [];
  const pg = postgresOf(state);
  if (!postgresRunning(pg)) {
    log(`PostgreSQL on :${state.ports.postgres} is down; starting it ...`);
    await startPostgresAfterCrash(pg);
    restarted.push('postgres');
  }
  if (!pidAlive(state.pids.server)) return restarted;
  const wait = restarted.length > 0 ? SERVER_RECOVERY_MS : SERVER_ANSWER_MS;
  if (await answersWithin(clusterTarget(state), wait)) {
    if (state.ui && !pidAlive(state.pids.ui)) {
      await startUi(state, log);
      restarted.push('web-ui');
    }
    return restarted;
  }
  log(`Temporal Server (pid ${state.pids.server}) runs but does not answer; restarting it ...`);
  await stopPid(state.pids.server!);
  delete state.pids.server;
  return restarted;
}

async function startUi(state: ClusterState, log: (line: string) => void, uiServer?: string): Promise<void> {
  const bin = uiServer ?? (await ensureClusterBinaries({ ui: true, log })).uiServer!;
  const paths = clusterPaths(state.dir);
  mkdirSync(paths.uiConfigDir, { recursive: true });
  writeUiConfig(state, certsOf(state));
  state.pids.ui = spawnDetached(
    bin,
    ['--root', paths.root, '--config', 'ui', '--env', 'cluster', 'start'],
    join(paths.logs, 'ui.log'),
    paths.root,
  );
}

/** Stops the server (and UI server) `up` started, then PostgreSQL. Data stays. */
export async function clusterDown(dir: string): Promise<{ dir: string; stopped: string[] }> {
  const state = readState(dir);
  if (!state) throw new UserError(`no cluster in ${clusterPaths(dir).root} (ados cluster up creates one)`, 'NOT_FOUND');
  const stopped: string[] = [];
  for (const name of ['ui', 'server'] as const) {
    const pid = state.pids[name];
    if (pidAlive(pid)) {
      await stopPid(pid);
      stopped.push(name === 'ui' ? 'web-ui' : 'temporal-server');
    }
    delete state.pids[name];
  }
  if (stopPostgres(postgresOf(state))) stopped.push('postgres');
  writeState(state);
  return { dir: state.dir, stopped };
}

export interface ClusterStatus {
  dir: string;
  exists: boolean;
  serving: boolean;
  server: boolean;
  postgres: boolean;
  ui: boolean;
  info?: ClusterInfo;
}

export async function clusterStatus(dir: string): Promise<ClusterStatus> {
  const state = readState(dir);
  if (!state)
    return { dir: clusterPaths(dir).root, exists: false, serving: false, server: false, postgres: false, ui: false };
  const server = pidAlive(state.pids.server);
  return {
    dir: state.dir,
    exists: true,
    server,
    serving: server && (await temporalAnswers(clusterTarget(state), 2000)),
    postgres: postgresRunning(postgresOf(state)),
    ui: pidAlive(state.pids.ui),
    info: info(state, false),
  };
}

/** The server process of a running cluster (tests kill and restart it). */
export function serverPid(dir: string): number | undefined {
  const pid = readState(dir)?.pids.server;
  return pidAlive(pid) ? pid : undefined;
}

/**
 * A throwaway cluster (the test suite's and the bench's): a fresh directory the `postgres` user can
 * reach, a free frontend port, and `discard()`, which takes it down and removes the directory.
 */
export async function temporaryCluster(
  options: Omit<ClusterUpOptions, 'dir' | 'port'> & { prefix: string; keep?: boolean },
): Promise<{ info: ClusterInfo; dir: string; discard(): Promise<void> }> {
  const { prefix, keep = false, ...up } = options;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // PostgreSQL runs as its own user under root, and must reach its data directory.
  chmodSync(dir, 0o755);
  const discard = async () => {
    await clusterDown(dir).catch((err: Error) => up.log?.(`down: ${err.message}`));
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    return { info: await clusterUp({ ...up, dir, port: await freePortIn(20_000, 32_000) }), dir, discard };
  } catch (err) {
    if (readState(dir)) await discard();
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
