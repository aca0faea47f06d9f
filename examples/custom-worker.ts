/**
 * An ADOS worker process with one extra node kind. Run it instead of `ados worker`:
 *   node --import tsx examples/custom-worker.ts
 */
import { NativeConnection } from '@temporalio/worker';
import { registerNodeKind } from '../activities/nodes/registry';
import { createAdosWorkers, runAdosWorkers } from '../workers/ados-worker';
import { installTemporalLogging } from '../workers/logging';
import { wordCount } from './word-count-kind';

async function main(): Promise<void> {
  registerNodeKind(wordCount);
  installTemporalLogging('info');
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
  await runAdosWorkers(await createAdosWorkers({ connection }));
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
