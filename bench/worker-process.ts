/**
 * The benchmark's ADOS workers in a process of their own, so that their CPU time is measured apart
 * from the client's. Started by bench/engine.ts with IPC; answers `cpu` with process.cpuUsage()
 * and stops on `stop` (writing its CPU profiles when started with --cpu-prof).
 */
import { Runtime } from '@temporalio/worker';
import { temporalTarget } from '../infra/temporal-connection';
import { connectWorker } from '../infra/worker-connection';
import { startAdosWorkers } from '../workers/ados-worker';
import type { BenchWorkerOptions } from './engine';
import { environment } from '../infra/config';

type Request = { type: 'cpu' } | { type: 'stop' };

async function main(): Promise<void> {
  const env = environment();
  const address = env.TEMPORAL_ADDRESS;
  if (!address || !process.send)
    throw new Error('bench/worker-process.ts is started by the bench, with TEMPORAL_ADDRESS and an IPC channel');
  const noop = () => undefined;
  Runtime.install({
    logger: {
      log: noop,
      trace: noop,
      debug: noop,
      info: noop,
      warn: noop,
      error: (m: string) => process.stderr.write(`${m}\n`),
    },
  });
  const options = JSON.parse(env.ADOS_BENCH_WORKER_OPTIONS ?? '{}') as BenchWorkerOptions;
  const connection = await connectWorker(temporalTarget({ address }));
  // No export sweep: the bench measures the runs alone.
  const workers = await startAdosWorkers({ ...options, connection, clientAddress: address, exportSchedule: false });
  process.on('message', (message: Request) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ type: 'cpu', cpuMs: (user + system) / 1000 });
    } else if (message.type === 'stop') {
      void workers.stop();
    }
  });
  process.send({ type: 'ready' });
  await workers.done;
  await connection.close();
  // With --cpu-prof the profile is written as the process exits.
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
