/**
 * The directory of a deployment of several regions (`ados cluster up --regions`): each tenant's
 * placement, recorded once, read from whichever region a process is in, and the client of the
 * namespace a tenant lives in, so that every door reaches it the same way.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { UserError } from '../../infra/user-error';
import { namespaceClient } from './connection';
import { loadConfig } from '../../infra/config';
import { LOCAL_ONLY } from '../../infra/temporal-connection';
import { regionNamespaces } from '../../infra/cluster/regions/served';
import { placementRegions } from '../../infra/cluster/regions/placements';
import {
  DIRECTORY_NAMESPACE,
  ENTITY_TASK_QUEUE,
  assertId,
  tenantPlacementWorkflowId,
} from '../../workflows/domain/ids';
import {
  describePlacement,
  placementNamespace,
  samePlacement,
  type Placement,
} from '../../workflows/domain/tenant/placement';
import type { tenantPlacement } from '../../workflows/tenant-placement';

/**
 * The tenant's placement as this region's copy of the directory has it (never forwarded, so a region
 * cut off from the directory's active region still answers), or undefined for a tenant not placed.
 */
export async function findPlacement(client: Client, tenantId: string): Promise<Placement | undefined> {
  const handle = namespaceClient(client, DIRECTORY_NAMESPACE).workflow.getHandle(tenantPlacementWorkflowId(tenantId));
  try {
    const described = await client.connection.withMetadata(LOCAL_ONLY, () => handle.describe());
    const placement = described.memo?.placement as Placement | undefined;
    return placement ? { home: placement.home, regions: [...placement.regions] } : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Records where a tenant lives, once: a tenant already placed keeps its placement, and asking for
 * another is refused (moving a tenant's data between regions is not built). Returns the placement
 * in force. Written where the directory is active (a standby region's frontend forwards it there).
 */
export async function placeTenant(client: Client, tenantId: string, placement: Placement): Promise<Placement> {
  assertId('tenant id', tenantId);
  const directory = namespaceClient(client, DIRECTORY_NAMESPACE);
  const handle = await directory.workflow.start<typeof tenantPlacement>('tenantPlacement', {
    workflowId: tenantPlacementWorkflowId(tenantId),
    taskQueue: ENTITY_TASK_QUEUE,
    args: [{ tenantId, ...placement }],
    memo: { placement },
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const placed = (await handle.describe()).memo?.placement as Placement;
  if (!samePlacement(placed, placement)) throw movingRefused(tenantId, placed, placement);
  return placed;
}

function movingRefused(tenantId: string, placed: Placement, wanted: Placement): UserError {
  return new UserError(
    `tenant ${tenantId} lives in ${describePlacement(placed)}; moving it to ${describePlacement(wanted)} is not built: create a new tenant there, or see docs/DEPLOYMENT.md "Regions"`,
    'CONFLICT',
  );
}

/**
 * The placement's namespace as this deployment names it: the copies in the deployment's order, which
 * a user need not know (`--replicas us,eu` and `--replicas eu,us` are the same placement).
 */
export function namespaceOf(placement: Placement, namespaces: string[]): string | undefined {
  return namespaces.find((ns) => {
    const regions = placementRegions(ns);
    return regions?.[0] === placement.home && samePlacement({ home: placement.home, regions }, placement);
  });
}

/** A tenant the directory does not know: in a deployment of regions, a tenant that does not exist. */
export class TenantNotPlaced extends UserError {
  constructor(tenantId: string) {
    super(
      `unknown tenant ${tenantId}: no placement in this deployment's directory (create it with ados tenant set ${tenantId} --region REGION)`,
      'NOT_FOUND',
    );
  }
}

/** Placements found, per process: a placement never changes once recorded. */
const known = new Map<string, Placement>();

/** The tenant's placement, read from the directory once per process (a placement never changes). */
export async function placementOf(client: Client, tenantId: string): Promise<Placement | undefined> {
  const found = known.get(tenantId) ?? (await findPlacement(client, tenantId));
  if (found) known.set(tenantId, found);
  return found;
}

/**
 * The tenants whose data `region` holds (their placement includes it), as this region's copy of the
 * directory lists them, each placement remembered as `placementOf` would.
 */
export async function tenantsIn(client: Client, region: string): Promise<string[]> {
  const directory = namespaceClient(client, DIRECTORY_NAMESPACE);
  const ids: string[] = [];
  await client.connection.withMetadata(LOCAL_ONLY, async () => {
    for await (const wf of directory.workflow.list({ query: `WorkflowType = 'tenantPlacement'` })) {
      const placement = wf.memo?.placement as Placement | undefined;
      const tenantId = wf.workflowId.slice(tenantPlacementWorkflowId('').length);
      if (!placement?.regions.includes(region)) continue;
      known.set(tenantId, { home: placement.home, regions: [...placement.regions] });
      ids.push(tenantId);
    }
  });
  return ids;
}

/**
 * The client of the namespace `tenantId` lives in. Outside a deployment of regions (no ADOS_REGION)
 * that is `client` itself. In a region, the directory says which placement, and a tenant whose data
 * this region does not hold is refused with the regions that do.
 */
export async function tenantClient(client: Client, tenantId: string): Promise<Client> {
  const region = loadConfig().ADOS_REGION;
  if (!region) return client;
  const placement = await placementOf(client, tenantId);
  if (!placement) throw new TenantNotPlaced(tenantId);
  if (!placement.regions.includes(region))
    throw new UserError(
      `tenant ${tenantId} lives in ${describePlacement(placement)}, and its data never comes to ${region}: use ADOS in ${placement.regions.join(' or ')}`,
      'NOT_FOUND',
    );
  return namespaceClient(client, placementNamespace(placement));
}

/**
 * The client of the namespace the tenant lives in, placing a new tenant first in a deployment of
 * regions: at `home` (default: this process's region) with copies in `replicas` (default: none, the
 * tenant is pinned). A placement given for a tenant placed otherwise is refused. Outside a
 * deployment of regions, `client` itself; a placement given there is refused.
 */
export async function placedTenantClient(
  client: Client,
  tenantId: string,
  wanted: { home?: string | undefined; replicas?: string[] | undefined } = {},
): Promise<Client> {
  const region = loadConfig().ADOS_REGION;
  const given = wanted.home !== undefined || wanted.replicas !== undefined;
  if (!region) {
    if (given)
      throw new UserError(
        'a placement (region, replicas) is for a deployment of regions (ados cluster up --regions); this process is in none: set ADOS_REGION',
      );
    return client;
  }
  const existing = await findPlacement(client, tenantId);
  if (!existing || given) {
    const home = wanted.home ?? existing?.home ?? region;
    const regions = wanted.replicas ?? (existing && wanted.home === undefined ? existing.regions : [home]);
    if (!regions.includes(home))
      throw new UserError(`the replicas must include the home region ${home} (got ${regions.join(',')})`);
    const placement = { home, regions };
    if (existing && !samePlacement(existing, placement)) throw movingRefused(tenantId, existing, placement);
    const namespace = namespaceOf(placement, await regionNamespaces(client.connection, region));
    if (!namespace)
      throw new UserError(
        `no placement ${describePlacement(placement)} here: this process is in ${region}, and a tenant is placed from one of its own regions (among those of ados cluster up --regions)`,
      );
    await placeTenant(client, tenantId, { home, regions: placementRegions(namespace)! });
  }
  return tenantClient(client, tenantId);
}
