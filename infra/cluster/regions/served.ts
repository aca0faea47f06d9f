/** The namespaces a region's processes serve: every placement namespace its own cluster holds. */
import type { Connection } from '@temporalio/client';
import { UserError } from '../../user-error';
import { placementRegions } from './placements';
import { local } from './state';

/**
 * Every placement namespace (`ados-{regions}`) that the cluster behind `connection` holds and lists
 * `region` in, active there or standby, read from that cluster's own copy (never forwarded).
 */
export async function regionNamespaces(connection: Connection, region: string): Promise<string[]> {
  const names: string[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await local(connection, () =>
      connection.workflowService.listNamespaces({ pageSize: 100, ...(nextPageToken ? { nextPageToken } : {}) }),
    );
    for (const ns of page.namespaces ?? []) {
      const name = ns.namespaceInfo?.name ?? '';
      const clusters = (ns.replicationConfig?.clusters ?? []).map((c) => c.clusterName);
      if (placementRegions(name)?.includes(region) && clusters.includes(region)) names.push(name);
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
