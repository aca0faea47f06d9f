/** The bench's harness: a server and in-process workers for a measurement, and its report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporalTarget } from '../infra/temporal-connection';
import { connectWorker } from '../infra/worker-connection';
import { connectClient } from '../api/client';
import { benchServer, stopBenchCluster, type BenchServer } from './target';
import { startAdosWorkers, type AdosWorkerOptions } from '../workers/ados-worker';

export interface BenchEnvOptions {
  /** Dev-server dynamic config, e.g. a lower continue-as-new suggestion. */
  dynamicConfig?: Record<string, string | number | boolean>;
  workers?: Omit<AdosWorkerOptions, 'connection' | 'clientAddress'>;
}

/**
 * A server (a fresh in-memory dev server, unless bench/target.ts says otherwise) with in-process
 * ADOS workers for one benchmark; what it started is stopped when `body` ends, however it ends.
 */
export async function withBenchEnv<T>(
  options: BenchEnvOptions,
  body: (client: Client, server: BenchServer) => Promise<T>,
): Promise<T> {
  const server = await benchServer(options.dynamicConfig);
  const connection = await connectWorker(temporalTarget({ address: server.address }));
  const workers = await startAdosWorkers({
    ...options.workers,
    connection,
    clientAddress: server.address,
    exportSchedule: false,
  });
  const client = await connectClient(server.address);
  try {
    return await body(client, server);
  } finally {
    await workers.stop();
    await client.connection.close();
    await connection.close();
    await server.stop();
  }
}

/** Prints a report and keeps it under bench/results/{name}.json. */
export function writeReport(name: string, report: unknown): void {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const file = join(__dirname, 'results', `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

/** Runs a benchmark's main and exits when it is done (0), or with its failure in one message (1). */
export function runBench(main: () => Promise<void>): void {
  main()
    .finally(stopBenchCluster)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(1);
      },
    );
}
