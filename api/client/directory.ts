/**
 * The directory of a deployment of several regions (`ados cluster up --regions`): each tenant's
 * placement, recorded once, read from whichever region a process is in, and the client of the
 * namespace a tenant lives in, so that every door reaches it the same way.
 */
import { Client, WorkflowNotFoundError, type ConnectionLike } from '@temporalio/client';
import { UserError } from '../../infra/user-error';
import { loadConfig } from '../../infra/config';
import { adosDataConverter } from '../../infra/payload-codec';
import { LOCAL_ONLY } from '../../infra/temporal-connection';
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

function clientFor(connection: ConnectionLike, namespace: string): Client {
  return new Client({ connection, namespace, dataConverter: adosDataConverter() });
}

/**
 * The tenant's placement as this region's copy of the directory has it (never forwarded, so a region
 * cut off from the directory's active region still answers), or undefined for a tenant not placed.
 */
export async function findPlacement(connection: ConnectionLike, tenantId: string): Promise<Placement | undefined> {
  const handle = clientFor(connection, DIRECTORY_NAMESPACE).workflow.getHandle(tenantPlacementWorkflowId(tenantId));
  try {
    const described = await connection.withMetadata(LOCAL_ONLY, () => handle.describe());
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
export async function placeTenant(
  connection: ConnectionLike,
  tenantId: string,
  placement: Placement,
): Promise<Placement> {
  assertId('tenant id', tenantId);
  const directory = clientFor(connection, DIRECTORY_NAMESPACE);
  const handle = await directory.workflow.start<typeof tenantPlacement>('tenantPlacement', {
    workflowId: tenantPlacementWorkflowId(tenantId),
    taskQueue: ENTITY_TASK_QUEUE,
    args: [{ tenantId, ...placement }],
    memo: { placement },
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const placed = (await handle.describe()).memo?.placement as Placement;
  if (!samePlacement(placed, placement))
    throw new UserError(
      `tenant ${tenantId} lives in ${describePlacement(placed)}; moving it to ${describePlacement(placement)} is not built: create a new tenant there, or see docs/DEPLOYMENT.md "Regions"`,
      'CONFLICT',
    );
  return placed;
}

/**
 * The placement's namespace as this deployment names it: the copies in the deployment's order, which
 * a user need not know (`--replicas us,eu` and `--replicas eu,us` are the same placement).
 */
export function namespaceOf(placement: Placement, namespaces: string[]): string | undefined {
  return namespaces.find((ns) => {
    const [, ...regions] = ns.split('-');
    return regions[0] === placement.home && samePlacement({ home: regions[0]!, regions }, placement);
  });
}

/** Placements found, per process: a placement never changes once recorded. */
const known = new Map<string, Placement>();

/**
 * The client of the namespace `tenantId` lives in. Outside a deployment of regions (no ADOS_REGION)
 * that is `client` itself. In a region, the directory says which placement, and a tenant whose data
 * this region does not hold is refused with the regions that do.
 */
export async function tenantClient(client: Client, tenantId: string): Promise<Client> {
  const region = loadConfig().ADOS_REGION;
  if (!region) return client;
  const placement = known.get(tenantId) ?? (await findPlacement(client.connection, tenantId));
  if (!placement)
    throw new UserError(
      `tenant ${tenantId} has no placement in this deployment: create it with ados tenant set ${tenantId} --region REGION`,
      'NOT_FOUND',
    );
  known.set(tenantId, placement);
  if (!placement.regions.includes(region))
    throw new UserError(
      `tenant ${tenantId} lives in ${describePlacement(placement)}, and its data never comes to ${region}: use ADOS in ${placement.regions.join(' or ')}`,
      'NOT_FOUND',
    );
  const namespace = placementNamespace(placement);
  return namespace === client.options.namespace ? client : clientFor(client.connection, namespace);
}
