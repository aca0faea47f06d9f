/** A real Temporal dev server and ADOS workers for one test file, and waiting helpers. */
import { mkdtempSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Runtime, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { temporalTarget } from '../infra/temporal-connection';
import { connectWorker } from '../infra/worker-connection';
import { startDevServer, type DevServer, type DevServerOptions } from '../infra/dev-server';
import { bundleWorkflows, startAdosWorkers, type RunningWorkers } from '../workers/ados-worker';
import type { AdosMetrics } from '../infra/metrics/registry';
import { ExecutionTrace } from '../workers/execution-trace';
import { connectClient } from '../api/client';
import { localCodecServerIfSealed } from '../api/servers/codec-server';
import { logger } from '../infra/logging/logger';

export { freePort } from '../infra/ports';
import { freePort } from '../infra/ports';

let runtimeInstalled = false;
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const noop = () => undefined;
  // Tests fail nodes and workflows on purpose; the SDK's warnings about those would drown real output.
  const error = (message: string, meta?: unknown) =>
    process.stderr.write(`[temporal] ${message} ${meta ? JSON.stringify(meta) : ''}\n`);
  Runtime.install({ logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error } });
}

export interface TestEnv {
  server: DevServer;
  address: string;
  client: Client;
  connection: NativeConnection;
  bundle: WorkflowBundle;
  /**
   * Starts in-process ADOS workers (control + all node partitions, or the partitions given: `[]`
   * for the control queue alone), optionally with fewer workflow-task slots for the runs; stop
   * them with the returned function.
   */
  startWorkers(options?: {
    partitions?: number[];
    metrics?: AdosMetrics;
    workflowConcurrency?: number;
  }): Promise<() => Promise<void>>;
  teardown(): Promise<void>;
}

/**
 * A real Temporal dev server for one test file: in memory, headless, with the ADOS search
 * attributes, and a low continue-as-new suggestion (150 events) so that entity rollovers happen in tests.
 */
/** A connection, tried once more a second later if the first attempt cannot reach the server. */
async function connectingAgain<T>(connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch {
    await new Promise((r) => setTimeout(r, 1000));
    return connect();
  }
}

export async function startTestEnv(): Promise<TestEnv> {
  quietRuntime();
  // Each test file writes its artifacts to a folder of its own.
  process.env.ADOS_ARTIFACTS_DIR ??= mkdtempSync(join(tmpdir(), 'ados-artifacts-'));
  const server = await startDevServer({
    port: await freePort(),
    headless: true,
    dbFile: null,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 },
  });
  // A server that has just started answers its health check before every connection gets through
  // (seen once in CI: "Failed to connect before the deadline" while the bundle built beside it).
  // A file whose setup fails must not keep its server (and so its process) alive until the file times out.
  const [connection, client, bundle] = await Promise.all([
    connectingAgain(() => connectWorker(temporalTarget({ address: server.address }))),
    connectingAgain(() => connectClient(server.address)),
    bundleWorkflows(),
  ]).catch(async (err: unknown) => {
    await server.stop().catch(() => undefined);
    throw err;
  });
  const running = new Set<RunningWorkers>();

  return {
    server,
    address: server.address,
    client,
    connection,
    bundle,
    async startWorkers({ partitions, metrics, workflowConcurrency } = {}) {
      const trace = new ExecutionTrace(`test-${process.pid}-${running.size}`);
      // As `ados worker` does, with the export sweep's Schedule: finished runs' artifacts are written by it.
      const entry = await startAdosWorkers({
        connection,
        workflowBundle: bundle,
        clientAddress: server.address,
        trace,
        // A test's teardown must not wait for ever on a task that does not drain (seen once in CI:
        // a file's workers never finished shutting down, and the file hit its 600-s timeout).
        shutdownForceTime: '20s',
        ...(partitions ? { partitions } : {}),
        ...(metrics ? { metrics } : {}),
        ...(workflowConcurrency ? { workflowConcurrency } : {}),
      });
      running.add(entry);
      return async () => {
        running.delete(entry);
        await entry.stop().catch((err: unknown) => {
          process.stderr.write(`# workers forced down after 20 s of shutdown: ${String(err)}\n`);
        });
      };
    },
    async teardown() {
      for (const entry of running) await entry.stop().catch(() => undefined);
      await client.connection.close();
      await connection.close();
      await server.stop();
    },
  };
}

export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 200, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until a worker polls `taskQueue` for workflow tasks (or, with `activities`, for activity
 * tasks): a worker process started by a test bundles its workflows first, which takes seconds more
 * on a loaded machine.
 */
export async function polled(
  client: Client,
  taskQueue: string,
  timeoutMs = 120_000,
  { activities = false } = {},
): Promise<void> {
  await eventually(
    async () => {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: activities
          ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
          : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return pollers.length > 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 250, what: `a worker polling ${taskQueue}` },
  );
}

/** A chain of `util.sleep` nodes `{prefix}0 → {prefix}1 → …`, one per cost, each sleeping `ms`. */
export function sleepChain(costs: readonly number[], ms: number, prefix = 'n') {
  return costs.map((costUsd, i) => ({
    id: `${prefix}${i}`,
    kind: 'util.sleep',
    params: { ms, costUsd },
    ...(i ? { deps: [`${prefix}${i - 1}`] } : {}),
  }));
}

/** Sum of node costs in micro-dollars: integer arithmetic, so "exactly" means exactly. */
export function micros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

/**
 * A test file's server and in-process workers, started before its tests and stopped after them.
 * The returned env stands for the one started; using it before `before` ran is an error.
 */
export function useTestEnvWithWorkers(): TestEnv {
  let current: TestEnv | undefined;
  let stopWorkers: (() => Promise<void>) | undefined;
  before(async () => {
    current = await startTestEnv();
    stopWorkers = await current.startWorkers();
  });
  after(async () => {
    await stopWorkers?.();
    await current?.teardown();
  });
  return new Proxy({} as TestEnv, {
    get: (_target, key) => {
      if (!current) throw new Error('the test env is used before it started');
      return Reflect.get(current, key);
    },
  });
}

/**
 * A dev server started with the given options (a Web UI, a database file, a codec endpoint), with
 * ADOS workers and a client on it; `stop` takes them down in order.
 */
export async function startServerWithWorkers(options: DevServerOptions) {
  quietRuntime();
  // As `ados dev` does: with payloads sealed and a Web UI, a codec server beside it decodes them for the UI.
  const codec = options.headless || options.uiCodecEndpoint ? undefined : await localCodecServerIfSealed(logger);
  const server = await startDevServer({ ...options, ...(codec ? { uiCodecEndpoint: codec.uiEndpoint } : {}) });
  const connection = await connectWorker(temporalTarget({ address: server.address }));
  const workers = await startAdosWorkers({ connection, clientAddress: server.address, exportSchedule: false });
  const client = await connectClient(server.address);
  const stopCodec = codec && (await codec.serve(client, server.uiUrl!));
  return {
    server,
    client,
    async stop() {
      await stopCodec?.();
      await workers.stop();
      await client.connection.close();
      await connection.close();
      await server.stop();
    },
  };
}
