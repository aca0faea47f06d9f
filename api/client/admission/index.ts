/**
 * Admission before a run starts, on the starter's side: every door's launch asks here (the TypeScript
 * client, the CLI, the HTTP API, and a run's own worker for a run started bare). A client admits by
 * its tenants' entities, in batches (by-entity.ts), or, once `admitFromBlocks` is called, from
 * blocks the entities lease to it (blocks.ts). The rules the entity applies are in
 * workflows/domain/admission/ and workflows/domain/tenant/ledger.ts.
 */
import type { Client } from '@temporalio/client';
import { AdmissionBlockKey } from '../../../workflows/ports/search-attributes';
import type { AdmissionRequest, AdmissionTicket } from '../../../workflows/domain/tenant/entity-payloads';
import { TenantAdmissions } from './by-entity';
import { TenantBlocks, type AdmissionBlockOptions } from './blocks';
import { baseClient } from '../connection';

export { ADMISSION_TIMEOUT_MS } from './by-entity';
export { starterName, type AdmissionBlockOptions } from './blocks';

const byClient = new WeakMap<Client, Map<string, TenantAdmissions>>();
const blockModes = new WeakMap<
  Client,
  { options: AdmissionBlockOptions; tenants: Map<string, TenantBlocks>; supported: Promise<boolean> }
>();

/**
 * Blocks need the AdmissionBlock search attribute (a run records its block there, for the entity
 * to find the runs of a starter that died). A namespace made before it existed has not got it
 * (`ados cluster up` and `ados dev` register it; docs/DEPLOYMENT.md says how elsewhere): starts
 * there are admitted by the entity, as before, and the starter says so once.
 */
async function blocksSupported(client: Client, onMissing: (reason: string) => void): Promise<boolean> {
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
      namespace: client.options.namespace,
    });
    if (customAttributes && AdmissionBlockKey.name in customAttributes) return true;
    onMissing(`namespace ${client.options.namespace} has no AdmissionBlock search attribute`);
  } catch (err) {
    onMissing(`could not list the namespace's search attributes: ${String(err)}`);
  }
  return false;
}

/**
 * From now on this client's starts admit from blocks (a long-lived starter: the HTTP API). Returns
 * what hands the blocks back when the process stops.
 */
export function admitFromBlocks(
  client: Client,
  options: AdmissionBlockOptions & { onUnsupported?: (reason: string) => void },
): () => Promise<void> {
  const mode = {
    options,
    tenants: new Map<string, TenantBlocks>(),
    supported: blocksSupported(client, options.onUnsupported ?? (() => undefined)),
  };
  blockModes.set(client, mode);
  return async () => {
    if (blockModes.get(client) === mode) blockModes.delete(client);
    await Promise.all([...mode.tenants.values()].map((t) => t.close()));
  };
}

/** Asks the tenant to admit a run before it starts; undefined when the run must ask itself (it would wait, or no answer came). */
export function admitBeforeStart(
  client: Client,
  tenantId: string,
  request: AdmissionRequest,
): Promise<AdmissionTicket | undefined> {
  let tenants = byClient.get(client);
  if (!tenants) byClient.set(client, (tenants = new Map()));
  let admissions = tenants.get(tenantId);
  if (!admissions) tenants.set(tenantId, (admissions = new TenantAdmissions(client, tenantId)));
  const byEntity = admissions;
  const mode = blockModes.get(baseClient(client));
  if (!mode) return byEntity.admit(request);
  return mode.supported.then((supported) => {
    if (!supported) return byEntity.admit(request);
    let blocks = mode.tenants.get(tenantId);
    if (!blocks) mode.tenants.set(tenantId, (blocks = new TenantBlocks(client, tenantId, mode.options)));
    return blocks.admit(request, () => byEntity.admit(request));
  });
}
