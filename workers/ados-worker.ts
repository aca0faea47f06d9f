import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { createAlertActivities } from '../activities/alerts';
import { adosDataConverter } from '../infra/payload-codec';
import { createControlActivities, lazyClient, nodePartitionsFromEnv } from '../activities/control';
import { createNodeActivities } from '../activities/node-activities';
import { CONTROL_TASK_QUEUE, assertId } from '../workflows/policy/ids';
import { dedicatedTaskQueue, partitionTaskQueue } from '../workflows/policy/routing';
import { temporalClient, temporalTarget } from '../infra/temporal-connection';
import { ensureExportSchedule } from './export-schedule';
import type { ExecutionTrace } from './execution-trace';
import type { AdosMetrics } from '../infra/metrics';
import { metricsSinks, nodeDurationInterceptor } from './metrics';
import { releaseSinks } from './release-sink';

export interface AdosWorkerOptions {
  connection: NativeConnection;
  /** @default the configured namespace (TEMPORAL_NAMESPACE, the profile's, or 'default') */
  namespace?: string;
  /** Host the workflows on `ados-control`. @default true */
  control?: boolean;
  /** Node partitions to serve. @default all of 0 … ADOS_NODE_PARTITIONS-1 */
  partitions?: number[];
  /** Tenants whose dedicated queues `ados-tenant-{id}` this process serves. @default none */
  tenants?: string[];
  /** Node activities run at once per node queue. @default 20 */
  nodeConcurrency?: number;
  /** Workflow tasks at once on the control queue. @default 40 */
  workflowConcurrency?: number;
  /** A prebuilt workflow bundle (tests build it once); otherwise bundled at start. */
  workflowBundle?: WorkflowBundle;
  identity?: string;
  /** Where the exporter's and release sink's client connects. @default the configured target (infra/temporal-connection.ts) */
  clientAddress?: string;
  /** Records every activity into execution/ artifacts. @default none */
  trace?: ExecutionTrace;
  /** Prometheus metrics to count into (runs, decisions, admission waits, spend, node durations). @default none */
  metrics?: AdosMetrics;
  /**
   * How long a shutdown waits for in-flight tasks before it gives up on them (they are retried
   * elsewhere after their timeouts). @default no limit: a shutdown drains every in-flight activity
   */
  shutdownForceTime?: Duration;
}

/**
 * The workflow bundle. Each workflow execution evaluates the modules it imports afresh, so the
 * modules a delivery run loads import no zod (its schemas load only for input that needs them).
 * Sharing zod through the SDK's `preloadModules` does not work: zod declares itself free of side
 * effects, so webpack drops the preload's bare `require('zod')`.
 */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  // Workflow failures are converted in the sandbox: it takes the failure converter of the workers' data converter.
  const { failureConverterPath } = adosDataConverter();
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: quietBundlerLogger,
    ...(failureConverterPath ? { failureConverterPath } : {}),
  });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) =>
    process.stderr.write(`${message} ${meta ? JSON.stringify(meta) : ''}\n`),
  error: (message: string, meta?: Record<string, unknown>) =>
    process.stderr.write(`${message} ${meta ? JSON.stringify(meta) : ''}\n`),
};

/** The task queues one process serves, in the order its workers are created. */
export function nodeQueuesFor({
  partitions,
  tenants = [],
}: Pick<AdosWorkerOptions, 'partitions' | 'tenants'>): string[] {
  const all = partitions ?? [...Array(nodePartitionsFromEnv()).keys()];
  return [...all.map(partitionTaskQueue), ...tenants.map((t) => dedicatedTaskQueue(assertId('tenant id', t)))];
}

/**
 * One process, several workers: the control worker runs the workflows (and their local
 * activities), and one node worker per served queue runs the DAG nodes as activities.
 */
export async function createAdosWorkers(options: AdosWorkerOptions): Promise<Worker[]> {
  const { connection, control = true, nodeConcurrency = 20, workflowConcurrency = 40 } = options;
  const target = temporalTarget({
    ...(options.clientAddress ? { address: options.clientAddress } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
  });
  const namespace = target.namespace;
  const workers: Worker[] = [];
  const activityInterceptors = [
    ...(options.trace ? [options.trace.interceptor()] : []),
    ...(options.metrics ? [nodeDurationInterceptor(options.metrics)] : []),
  ];
  // One client of the worker's own for the exporter and the runs' releases, connected on first use.
  const client = lazyClient(target);
  const dataConverter = adosDataConverter();
  if (control) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: CONTROL_TASK_QUEUE,
        ...(options.workflowBundle
          ? { workflowBundle: options.workflowBundle }
          : { workflowBundle: await bundleWorkflows() }),
        activities: { ...createControlActivities(client), ...createAlertActivities() },
        dataConverter,
        interceptors: { activity: activityInterceptors },
        sinks: { ...metricsSinks(options.metrics), ...releaseSinks(client) },
        maxConcurrentWorkflowTaskExecutions: workflowConcurrency,
        ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
        ...(options.identity ? { identity: `${options.identity}/control` } : {}),
      }),
    );
  }
  const activities = createNodeActivities();
  for (const taskQueue of nodeQueuesFor(options)) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue,
        activities,
        dataConverter,
        maxConcurrentActivityTaskExecutions: nodeConcurrency,
        interceptors: { activity: activityInterceptors },
        ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
        ...(options.identity ? { identity: `${options.identity}/${taskQueue}` } : {}),
      }),
    );
  }
  return workers;
}

/** ADOS workers running in this process. */
export interface RunningWorkers {
  workers: Worker[];
  /** Settles once every worker has shut down (Temporal's runtime shuts them down on SIGINT/SIGTERM). */
  done: Promise<void>;
  /** Shuts the workers down (in-flight activities drain) and waits for them. */
  stop(): Promise<void>;
}

/**
 * The one assembly of ADOS workers, for every process that hosts them (`ados worker`, the demo, a
 * custom worker, the tests' and the bench's): the workers created and running, and, where they host
 * the control queue, the export sweep's Schedule made sure of.
 */
export async function startAdosWorkers(
  options: AdosWorkerOptions & {
    /** Make sure the export sweep's Schedule exists. @default true when hosting the control queue */
    exportSchedule?: boolean;
  },
): Promise<RunningWorkers> {
  const workers = await createAdosWorkers(options);
  const done = runAdosWorkers(workers, options.trace);
  if (options.exportSchedule ?? options.control !== false) {
    const client = await temporalClient(
      temporalTarget({
        ...(options.clientAddress ? { address: options.clientAddress } : {}),
        ...(options.namespace ? { namespace: options.namespace } : {}),
      }),
    );
    await ensureExportSchedule(client).finally(() => client.connection.close());
  }
  return {
    workers,
    done,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

/**
 * Runs the workers until each has shut down (Temporal's runtime shuts them down on SIGINT/SIGTERM),
 * refreshing the execution summary meanwhile and writing it one last time at the end.
 */
export async function runAdosWorkers(workers: Worker[], trace?: ExecutionTrace): Promise<void> {
  trace?.start();
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    trace?.stop();
  }
}
