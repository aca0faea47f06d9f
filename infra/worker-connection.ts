/**
 * A worker's connection to Temporal (the SDK's Rust core), apart from the client's
 * (./temporal-connection.ts) so that a client never loads the worker's SDK.
 */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from './config';
import { LOCAL_ONLY, unreachable, type TemporalTarget } from './temporal-connection';

/**
 * A worker connection, failing with the same one-line reasons as a client's. In a region
 * (ADOS_REGION) its calls are never forwarded to another region: a worker polls its own cluster,
 * where a standby namespace hands out no task until it fails over, and a task taken before a
 * failover cannot be completed in the region that lost it (Temporal gives it out again).
 */
export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  const options = loadConfig().ADOS_REGION
    ? {
        ...target.connectionOptions,
        metadata: { ...target.connectionOptions.metadata, ...LOCAL_ONLY },
      }
    : target.connectionOptions;
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    throw await unreachable(target, err);
  }
}
