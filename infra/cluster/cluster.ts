import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { ADOS_SEARCH_ATTRIBUTES, TenantIdKey } from '../../workflows/ports/search-attributes';
import { temporalAnswers } from '../dev-server';
import { freePortIn, portIsFree } from '../ports';
import { temporalTarget, type TemporalTarget } from '../temporal-connection';
import { UserError } from '../user-error';
import { ensureClusterBinaries } from './build';
import { ensureCerts, tlsEnvironment, type ClusterCerts } from './certs';
import { clusterPaths, readState, writeState, type ClusterState } from './layout';
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

const SA_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

function pidAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function postgresOf(state: ClusterState, bin = findPostgresBin()): Postgres {
  const paths = clusterPaths(state.dir);
  return { bin, data: paths.pgData, port: state.ports.postgres, logFile: join(paths.logs, 'postgres.log') };
}

function certsOf(state: ClusterState): ClusterCerts | undefined {
  return state.tls ? ensureCerts(clusterPaths(state.dir).certs) : undefined;
}

/** The target a client of this cluster uses: its address, namespace and (with TLS) the client certificate. */
export function clusterTarget(state: ClusterState): TemporalTarget {
  return temporalTarget(
    {},
    { ...clusterEnv(state), TEMPORAL_CONFIG_FILE: join(clusterPaths(state.dir).root, 'no-profile.toml') },
  );
}

function clusterEnv(state: ClusterState): Record<string, string> {
  const certs = certsOf(state);
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${state.ports.frontend}`,
    TEMPORAL_NAMESPACE: state.namespace,
    ...(certs ? tlsEnvironment(certs) : {}),
  };
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
  };
}

function spawnDetached(command: string, args: string[], logFile: string, cwd: string): number {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new UserError(`could not start ${command}`, 'UNAVAILABLE');
  return child.pid;
}

function logTail(file: string, pattern = /error|fatal|panic|bind|refused|unable/i): string {
  if (!existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  const flagged = lines.filter((l) => pattern.test(l)).slice(-2);
  return (flagged.length ? flagged : lines.slice(-2)).join(' | ').slice(0, 400);
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

async function answersWithin(target: TemporalTarget, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  do {
    if (await temporalAnswers(target, 2000)) return true;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < deadline);
  return false;
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

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 20_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
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

/** Registers the namespace and ADOS's search attributes, then waits until a probe workflow starts. */
async function waitReady(state: ClusterState, timeoutMs: number, serverLog: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const target = clusterTarget(state);
  let last = '';
  while (Date.now() < deadline) {
    if (!pidAlive(state.pids.server))
      throw new UserError(
        `Temporal Server exited while starting: ${logTail(serverLog)} (log ${serverLog})`,
        'UNAVAILABLE',
      );
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 2000 });
      await registerNamespace(connection, state.namespace);
      await connection.operatorService.addSearchAttributes({
        namespace: state.namespace,
        searchAttributes: Object.fromEntries(ADOS_SEARCH_ATTRIBUTES.map((k) => [k.name, SA_TYPES[k.type]!])),
      });
      await probeWorkflow(connection, state.namespace);
      return;
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new UserError(
    `Temporal Server did not accept a workflow within ${timeoutMs / 1000} s (${last}; log ${serverLog})`,
    'UNAVAILABLE',
  );
}

async function registerNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch {
    await connection.workflowService
      .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') })
      .catch((err: Error) => {
        if (!/already exists|AlreadyExists/i.test(err.message)) throw err;
      });
    throw new Error(`namespace ${namespace} registered; waiting for the server to see it`);
  }
}

/**
 * Starts and terminates a workflow nobody serves, with a TenantId, and finds it listed by it: the
 * proof that the namespace, shards, search attributes and visibility work. (The server's cache of
 * search attributes catches up with new ones within a minute; refreshing it on every read instead
 * costs every start and upsert a database read.)
 */
async function probeWorkflow(connection: Connection, namespace: string): Promise<void> {
  const workflowId = `ados-cluster-probe-${Date.now()}`;
  const { randomUUID } = await import('node:crypto');
  await connection.workflowService.startWorkflowExecution({
    namespace,
    workflowId,
    workflowType: { name: 'ados-cluster-probe' },
    taskQueue: { name: 'ados-cluster-probe' },
    requestId: randomUUID(),
    searchAttributes: {
      indexedFields: {
        [TenantIdKey.name]: { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"ados-probe"') },
      },
    },
  });
  try {
    for (let attempt = 0; ; attempt++) {
      const { count } = await connection.workflowService.countWorkflowExecutions({
        namespace,
        query: `WorkflowId = '${workflowId}' AND ${TenantIdKey.name} = 'ados-probe'`,
      });
      if (Number(count) > 0) break;
      if (attempt === 50) throw new Error('the probe workflow is not listed by TenantId yet');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await connection.workflowService.terminateWorkflowExecution({
      namespace,
      workflowExecution: { workflowId },
      reason: 'ados cluster up: readiness probe',
    });
    await connection.workflowService
      .deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } })
      .catch(() => undefined);
  }
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
