/** A regional deployment's state on disk, and connections to its regions (local reads never forwarded). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection, type ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { UserError } from '../../user-error';
import { LOCAL_ONLY } from '../../temporal-connection';
import { readState, writeJsonFile, type ClusterState } from '../layout';
import { clusterTarget } from '../target';

export interface RegionsState {
  version: 1;
  dir: string;
  regions: string[];
}

export function regionsPaths(dir: string) {
  const root = resolve(dir);
  return {
    root,
    state: join(root, 'regions.json'),
    certs: join(root, 'certs'),
    region: (name: string) => join(root, name),
  };
}

/** The regions of the deployment in `dir`, or undefined when `dir` holds a single cluster (or nothing). */
export function readRegions(dir: string): RegionsState | undefined {
  const file = regionsPaths(dir).state;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RegionsState) : undefined;
}

export function writeRegions(state: RegionsState): void {
  writeJsonFile(regionsPaths(state.dir).state, state);
}

/** The regions of the deployment in `dir`; a clear error when there are none. */
export function requireRegions(dir: string): RegionsState {
  const regions = readRegions(dir);
  if (!regions)
    throw new UserError(
      `no regions in ${regionsPaths(dir).root} (ados cluster up --regions creates them)`,
      'NOT_FOUND',
    );
  return regions;
}

/** A connection to one region's frontend; `local` reads answer from that region's own copy, never forwarded. */
export async function connectRegion(state: ClusterState): Promise<Connection> {
  return Connection.connect({ ...clusterTarget(state).connectionOptions, connectTimeout: 5000 });
}

export function local<T>(connection: ConnectionLike, call: () => Promise<T>): Promise<T> {
  return connection.withMetadata(LOCAL_ONLY, call);
}

export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new UserError(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${last})` : ''}`, 'UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The namespace's state as one region's own copy has it, or undefined while that region does not have it. */
export async function describeLocally(
  connection: ConnectionLike,
  namespace: string,
): Promise<temporal.api.workflowservice.v1.IDescribeNamespaceResponse | undefined> {
  try {
    return await local(connection, () => connection.workflowService.describeNamespace({ namespace }));
  } catch (err) {
    if (/not found/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** The regions' cluster states, in the deployment's order. */
export function regionStates(regions: RegionsState): ClusterState[] {
  return regions.regions.map((name) => {
    const state = readState(regionsPaths(regions.dir).region(name));
    if (!state)
      throw new UserError(`region ${name} has no cluster in ${regionsPaths(regions.dir).region(name)}`, 'NOT_FOUND');
    return state;
  });
}

export async function withConnections<T>(
  states: ClusterState[],
  use: (connections: Map<string, Connection>) => Promise<T>,
): Promise<T> {
  const connections = new Map<string, Connection>();
  try {
    for (const state of states) connections.set(state.region!.name, await connectRegion(state));
    return await use(connections);
  } finally {
    await Promise.all([...connections.values()].map((c) => c.close().catch(() => undefined)));
  }
}
