/** Connecting to Temporal as a client: the namespace and a client through the one connection factory. */
import type { Client } from '@temporalio/client';
import { UserError } from '../../infra/user-error';
import { temporalClient, temporalTarget } from '../../infra/temporal-connection';

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

export { baseClient, namespaceClient } from '../../infra/temporal-connection';
