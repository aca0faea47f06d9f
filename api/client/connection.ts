/** Connecting to Temporal as a client: the namespace and a client through the one connection factory. */
import { Client } from '@temporalio/client';
import { UserError } from '../../infra/user-error';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';
import { adosDataConverter } from '../../infra/payload-codec';

export { UserError };

/** The namespace ADOS works in (TEMPORAL_NAMESPACE or the profile's; docs/DEPLOYMENT.md). */
export function temporalNamespace(): string {
  return temporalTarget().namespace;
}

/**
 * A client through the one connection factory (infra/temporal-connection.ts); `address` overrides
 * the configured one (a harness's own server). Fails with a one-line UserError (UNAVAILABLE).
 */
export async function connectClient(address?: string): Promise<Client> {
  return temporalClient(temporalTarget(address ? { address } : {}));
}

const derived = new WeakMap<Client, Map<string, Client>>();
const baseOf = new WeakMap<Client, Client>();

/**
 * A client of another namespace over `base`'s connection, one per namespace and base: what a
 * process that serves tenants of several namespaces (a region's) starts their runs with. It shares
 * `base`'s settings, such as admitting from blocks (./admission).
 */
export function namespaceClient(base: Client, namespace: string): Client {
  const root = baseClient(base);
  if (namespace === root.options.namespace) return root;
  let clients = derived.get(root);
  if (!clients) derived.set(root, (clients = new Map()));
  let client = clients.get(namespace);
  if (!client) {
    client = new Client({ connection: root.connection, namespace, dataConverter: adosDataConverter() });
    clients.set(namespace, client);
    baseOf.set(client, root);
  }
  return client;
}

/** The client `client` was derived from by namespaceClient, or `client` itself. */
export function baseClient(client: Client): Client {
  return baseOf.get(client) ?? client;
}
