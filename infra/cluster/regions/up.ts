/**
 * Regions: one Temporal cluster per region, each on its own PostgreSQL, connected both ways for
 * replication, with one global namespace per placement; brought up, down, and checked.
 */
import { writeRegionKeyRings } from './keyrings';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ADOS_SEARCH_ATTRIBUTES } from '../../../workflows/ports/search-attributes';
import { DIRECTORY_NAMESPACE } from '../../../workflows/domain/ids';
import { freePortIn } from '../../ports';
import { UserError } from '../../user-error';
import { ensureClusterBinaries } from '../build';
import { ensureCerts } from '../certs';
import { clusterDown, clusterStatus, clusterUp, type ClusterInfo, type ClusterStatus } from '../cluster';
import { readState, type ClusterState } from '../layout';
import { SA_TYPES, probeWorkflow } from '../readiness';
import { placementNamespace, placementsOf, type Placement } from './placements';
import {
  describeLocally,
  local,
  readRegions,
  regionStates,
  requireRegions,
  regionsPaths,
  until,
  withConnections,
  writeRegions,
  type RegionsState,
} from './state';

export interface RegionsUpOptions {
  dir: string;
  regions: string[];
  /** The first region's frontend port; the next regions take the ports after it. @default 7233 */
  port?: number;
  /** Each region's frontend on a free port instead (tests). */
  freePorts?: boolean;
  shards?: number;
  tls?: boolean;
  ui?: boolean;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface NamespacePlacement {
  namespace: string;
  home: string;
  regions: string[];
  /** The region where the namespace is active now (its home until a failover). */
  active: string;
}

export interface RegionsInfo {
  dir: string;
  regions: Array<{ name: string } & ClusterInfo>;
  namespaces: NamespacePlacement[];
  /** For each placement of several regions: how long its probe run took to show in every other region. */
  replicationMs: Record<string, number>;
}

/** Each region knows every other as a remote cluster with replication on (`temporal operator cluster upsert`). */
async function connectRegions(states: ClusterState[], connections: Map<string, Connection>): Promise<void> {
  for (const from of states)
    for (const to of states) {
      if (from === to) continue;
      const connection = connections.get(from.region!.name)!;
      await until(`region ${from.region!.name} connecting to ${to.region!.name}`, 60_000, async () => {
        await connection.operatorService.addOrUpdateRemoteCluster({
          frontendAddress: `127.0.0.1:${to.ports.frontend}`,
          frontendHttpAddress: `127.0.0.1:${to.ports.frontendHttp}`,
          enableRemoteClusterConnection: true,
          enableReplication: true,
        });
        const { clusters } = await connection.operatorService.listClusters({ pageSize: 100 });
        return clusters.some((c) => c.clusterName === to.region!.name && c.isConnectionEnabled) ? true : undefined;
      });
    }
}

/**
 * The placement's global namespace, registered at its home with its regions and ADOS's search
 * attributes, once every region of the placement has it with them (an existing one is kept).
 */
async function ensurePlacementNamespace(
  placement: Placement,
  connections: Map<string, Connection>,
  namespace = placementNamespace(placement),
  description = `ADOS placement: home ${placement.home}, data in ${placement.regions.join(', ')}`,
): Promise<void> {
  const home = connections.get(placement.home)!;
  // A region knows a peer it was just connected to once it refreshes its cluster metadata.
  await until(`namespace ${namespace} registered at ${placement.home}`, 60_000, async () => {
    if (await describeLocally(home, namespace)) return true;
    await home.workflowService
      .registerNamespace({
        namespace,
        description,
        workflowExecutionRetentionPeriod: msToTs('3 days'),
        isGlobalNamespace: true,
        activeClusterName: placement.home,
        clusters: placement.regions.map((clusterName) => ({ clusterName })),
      })
      .catch((err: Error) => {
        if (!/already exists|AlreadyExists/i.test(err.message)) throw err;
      });
    return undefined;
  });
  const wanted = ADOS_SEARCH_ATTRIBUTES.map((k) => k.name);
  // Search attributes are added where the namespace is active; SQL visibility's alias mapping
  // travels with the namespace to its other regions.
  await until(`namespace ${namespace} with ADOS's search attributes at ${placement.home}`, 60_000, async () => {
    if (!(await describeLocally(home, namespace))) return undefined;
    const { customAttributes } = await home.operatorService.listSearchAttributes({ namespace });
    const missing = wanted.filter((name) => !(name in (customAttributes ?? {})));
    if (missing.length === 0) return true;
    await home.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        ADOS_SEARCH_ATTRIBUTES.filter((k) => missing.includes(k.name)).map((k) => [k.name, SA_TYPES[k.type]!]),
      ),
    });
    return undefined;
  });
  for (const region of placement.regions.slice(1)) {
    const connection = connections.get(region)!;
    await until(`namespace ${namespace} replicated to ${region}`, 60_000, async () => {
      const described = await describeLocally(connection, namespace);
      return described?.replicationConfig?.clusters?.length === placement.regions.length ? true : undefined;
    });
  }
}

/**
 * How long a workflow started in the namespace's active region takes to show in `other`'s own copy
 * (polled every 20 ms), in ms: an upper bound of the replication lag at that moment.
 */
export async function replicationProbeMs(
  namespace: string,
  active: Connection,
  other: Connection,
  timeoutMs = 30_000,
): Promise<number> {
  const requestId = randomUUID();
  const workflowId = `ados-replication-probe-${requestId}`;
  const began = Date.now();
  await active.workflowService.startWorkflowExecution({
    namespace,
    workflowId,
    workflowType: { name: 'ados-replication-probe' },
    taskQueue: { name: 'ados-replication-probe' },
    requestId,
  });
  try {
    for (;;) {
      const seen = await local(other, () =>
        other.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId } }),
      ).then(
        () => true,
        () => false,
      );
      if (seen) return Date.now() - began;
      if (Date.now() - began > timeoutMs)
        throw new UserError(`a run in ${namespace} did not replicate within ${timeoutMs / 1000} s`, 'UNAVAILABLE');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await active.workflowService
      .terminateWorkflowExecution({ namespace, workflowExecution: { workflowId }, reason: 'ados: replication probe' })
      .catch(() => undefined);
  }
}

/**
 * The replication probe of a namespace just registered, started again (up to three times, 20 s
 * each) when it does not show: seen once on this machine (2026-12-07, cause not found), a probe
 * started right after its namespace reached the other region did not show there within 30 s, and
 * `up` failed.
 */
async function firstReplicatedProbeMs(namespace: string, active: Connection, other: Connection): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await replicationProbeMs(namespace, active, other, 20_000);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** Where each placement's namespace (and the directory) is active now, as the first region that answers sees it. */
export async function namespacePlacements(
  regions: string[],
  connections: Map<string, Connection>,
): Promise<NamespacePlacement[]> {
  const placements: NamespacePlacement[] = [];
  // Every placement, then the directory (over every region, at home in the first).
  const all = [
    ...placementsOf(regions).map((p) => ({ ...p, namespace: placementNamespace(p) })),
    { home: regions[0]!, regions: [...regions], namespace: DIRECTORY_NAMESPACE },
  ];
  for (const { namespace, ...placement } of all) {
    let active = '';
    for (const region of placement.regions) {
      const connection = connections.get(region);
      if (!connection) continue;
      const described = await describeLocally(connection, namespace).catch(() => undefined);
      if (described) {
        active = described.replicationConfig?.activeClusterName ?? '';
        break;
      }
    }
    placements.push({ namespace, home: placement.home, regions: placement.regions, active });
  }
  return placements;
}

/**
 * Brings up one cluster per region (in parallel, after one build), connects them both ways, and
 * registers every placement's global namespace with ADOS's search attributes; returns once a run in
 * each replicated placement has shown in its other regions. On an existing deployment it heals each
 * region as `ados cluster up` does, and keeps what is registered.
 */
export async function regionsUp(options: RegionsUpOptions): Promise<RegionsInfo> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const paths = regionsPaths(options.dir);
  const existing = readRegions(options.dir);
  if (existing && existing.regions.join(',') !== options.regions.join(','))
    throw new UserError(
      `${paths.root} holds regions ${existing.regions.join(',')}; other regions need a new --dir`,
      'CONFLICT',
    );
  if (!existing && readState(options.dir))
    throw new UserError(`${paths.root} holds a single-region cluster; regions need a new --dir`, 'CONFLICT');
  const regions: RegionsState = existing ?? { version: 1, dir: paths.root, regions: options.regions };
  writeRegions(regions);
  writeRegionKeyRings(regions.regions, paths.region);
  await ensureClusterBinaries({ ui: Boolean(options.ui), log });
  // One CA for every region (they call each other's frontends with its client certificate), made before they start.
  if (options.tls) ensureCerts(paths.certs);
  const taken = new Set<number>();
  const ports: number[] = [];
  for (const [i] of regions.regions.entries()) {
    const port = options.freePorts ? await freePortIn(20_000, 32_000, taken) : (options.port ?? 7233) + i;
    taken.add(port);
    ports.push(port);
  }
  const infos = await Promise.all(
    regions.regions.map((name, i) => {
      const dir = paths.region(name);
      const prior = readState(dir);
      return clusterUp({
        dir,
        ...(prior ? {} : { port: ports[i]! }),
        ...(options.shards !== undefined ? { shards: options.shards } : {}),
        ...(options.tls !== undefined ? { tls: options.tls } : {}),
        ...(options.ui ? { ui: true } : {}),
        ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
        region: { name, initialFailoverVersion: i + 1 },
        certsDir: paths.certs,
        log: (line) => log(`[${name}] ${line}`),
      });
    }),
  );
  const states = regionStates(regions);
  const replicationMs: Record<string, number> = {};
  const namespaces = await withConnections(states, async (connections) => {
    log(`connecting ${regions.regions.join(' ⇄ ')} for replication ...`);
    await connectRegions(states, connections);
    for (const placement of placementsOf(regions.regions)) {
      await ensurePlacementNamespace(placement, connections);
      const namespace = placementNamespace(placement);
      // The frontend's namespace cache learns the new search attributes within seconds.
      await until(`a run in ${namespace} listable by TenantId`, 60_000, () =>
        probeWorkflow(connections.get(placement.home)!, namespace).then(() => true),
      );
      if (placement.regions.length > 1)
        replicationMs[namespace] = Math.max(
          ...(await Promise.all(
            placement.regions
              .slice(1)
              .map((r) => firstReplicatedProbeMs(namespace, connections.get(placement.home)!, connections.get(r)!)),
          )),
        );
    }
    // The directory spans every region, so that any region that survives can say where each tenant lives.
    await ensurePlacementNamespace(
      { home: regions.regions[0]!, regions: regions.regions },
      connections,
      DIRECTORY_NAMESPACE,
      `ADOS directory: each tenant's placement, in every region`,
    );
    return namespacePlacements(regions.regions, connections);
  });
  return {
    dir: paths.root,
    regions: regions.regions.map((name, i) => ({ name, ...infos[i]! })),
    namespaces,
    replicationMs,
  };
}

/** Stops every region's processes (server, Web UI, PostgreSQL); the data stays. */
export async function regionsDown(dir: string): Promise<{ dir: string; stopped: Record<string, string[]> }> {
  const regions = requireRegions(dir);
  const stopped: Record<string, string[]> = {};
  for (const name of regions.regions)
    stopped[name] = (await clusterDown(regionsPaths(dir).region(name)).catch(() => ({ stopped: [] }))).stopped;
  return { dir: regions.dir, stopped };
}

export interface RegionsStatus {
  dir: string;
  regions: Array<{ name: string } & ClusterStatus>;
  namespaces: NamespacePlacement[];
  /** Per replicated namespace, per standby region serving: a probe run's time to show there (ms). */
  replicationMs: Record<string, Record<string, number>>;
}

/** Each region's health, where each placement's namespace is active, and the replication lag a probe run sees. */
export async function regionsStatus(dir: string): Promise<RegionsStatus> {
  const regions = requireRegions(dir);
  const statuses = await Promise.all(
    regions.regions.map(async (name) => ({ name, ...(await clusterStatus(regionsPaths(dir).region(name))) })),
  );
  const serving = regionStates(regions).filter((_, i) => statuses[i]!.serving);
  const replicationMs: Record<string, Record<string, number>> = {};
  const namespaces = await withConnections(serving, async (connections) => {
    const placements = await namespacePlacements(regions.regions, connections);
    for (const p of placements) {
      if (p.regions.length < 2 || !connections.has(p.active)) continue;
      replicationMs[p.namespace] = {};
      for (const standby of p.regions.filter((r) => r !== p.active && connections.has(r)))
        replicationMs[p.namespace]![standby] = await replicationProbeMs(
          p.namespace,
          connections.get(p.active)!,
          connections.get(standby)!,
          5000,
        ).catch(() => -1);
    }
    return placements;
  });
  return { dir: regions.dir, regions: statuses, namespaces, replicationMs };
}

/**
 * Throwaway regions (the test suite's and the bench's): a fresh directory the `postgres` user can
 * reach, free ports, and `discard()`, which takes every region down and removes the directory.
 */
export async function temporaryRegions(
  options: Omit<RegionsUpOptions, 'dir' | 'port' | 'freePorts'> & { prefix: string; keep?: boolean },
): Promise<{ info: RegionsInfo; dir: string; discard(): Promise<void> }> {
  const { prefix, keep = false, ...up } = options;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const discard = async () => {
    await regionsDown(dir).catch((err: Error) => up.log?.(`down: ${err.message}`));
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    return { info: await regionsUp({ ...up, dir, freePorts: true }), dir, discard };
  } catch (err) {
    await discard();
    throw err;
  }
}
