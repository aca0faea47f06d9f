/**
 * An ADOS worker process with one extra node kind. Run it instead of `ados worker`:
 *   node --import tsx examples/custom-worker.ts
 */
import { registerNodeKind } from '../activities/nodes/registry';
import { startAdosWorkers } from '../workers/ados-worker';
import { installTemporalLogging } from '../infra/logging/runtime-logger';
import { temporalTarget } from '../infra/temporal-connection';
import { connectWorker } from '../infra/worker-connection';
import { wordCount } from './word-count-kind';

async function main(): Promise<void> {
  registerNodeKind(wordCount);
  installTemporalLogging('info');
  // The connection factory reads TEMPORAL_ADDRESS, TEMPORAL_PROFILE, TLS and API-key settings (docs/DEPLOYMENT.md).
  const connection = await connectWorker(temporalTarget());
  await (
    await startAdosWorkers({ connection })
  ).done;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
