/** The namespaces a region's processes serve: every placement namespace its own cluster holds, and the directory. */
import type { ConnectionLike } from '@temporalio/client';
import { UserError } from '../../user-error';
import { placementRegions } from './placements';
import { LOCAL_ONLY } from '../../temporal-connection';
import { describeLocally } from './state';
import { DIRECTORY_NAMESPACE } from '../../../workflows/domain/ids';

/**
 * The directory (`ados-directory`) and every placement namespace (`ados-{regions}`) that the cluster behind `connection` holds and lists
 * `region` in, active there or standby, read from that cluster's own copy (never forwarded).
 */
export async function regionNamespaces(connection: ConnectionLike, region: string): Promise<string[]> {
  const names: string[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.withMetadata(LOCAL_ONLY, () =>
      connection.workflowService.listNamespaces({ pageSize: 100, ...(nextPageToken ? { nextPageToken } : {}) }),
    );
    for (const ns of page.namespaces ?? []) {
      const name = ns.namespaceInfo?.name ?? '';
      const clusters = (ns.replicationConfig?.clusters ?? []).map((c) => c.clusterName);
      const ours = name === DIRECTORY_NAMESPACE || placementRegions(name)?.includes(region);
      if (ours && clusters.includes(region)) names.push(name);
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  if (names.length === 0)
    throw new UserError(
      `region ${region}'s cluster holds no ADOS namespace (ados cluster up --regions registers them)`,
      'NOT_FOUND',
    );
  return names.sort();
}

/** How long a process trusts what its own cluster said about where a namespace is active. */
const ACTIVE_REGION_TTL_MS = 1000;
const activeRegions = new Map<string, { at: number; active: Promise<string | undefined> }>();

/**
 * The region where `namespace` is active, as the cluster behind `connection` has it (its own copy,
 * never forwarded), at most ACTIVE_REGION_TTL_MS old; undefined when that cannot be read.
 */
export function activeRegionOf(connection: ConnectionLike, namespace: string): Promise<string | undefined> {
  const cached = activeRegions.get(namespace);
  if (cached && Date.now() - cached.at < ACTIVE_REGION_TTL_MS) return cached.active;
  const active = describeLocally(connection, namespace).then(
    (described) => described?.replicationConfig?.activeClusterName ?? undefined,
    () => undefined,
  );
  activeRegions.set(namespace, { at: Date.now(), active });
  return active;
}
