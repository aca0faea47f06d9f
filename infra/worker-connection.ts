/**
 * A worker's connection to Temporal (the SDK's Rust core), apart from the client's
 * (./temporal-connection.ts) so that a client never loads the worker's SDK.
 */
import { NativeConnection } from '@temporalio/worker';
import { unreachable, type TemporalTarget } from './temporal-connection';

/** A worker connection, failing with the same one-line reasons as a client's. */
export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(target.connectionOptions);
  } catch (err) {
    throw await unreachable(target, err);
  }
}
