/** ADOS's workers: the workflow bundle, the task queues, slots and activities of each role. */
import {
  bundleWorkflowCode,
  NativeConnection,
  ResourceBasedController,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { setMaxListeners } from 'node:events';
import type { Duration } from '@temporalio/common';
import { createAlertActivities } from '../activities/alerts';
import { adosDataConverter } from '../infra/payload-codec';
import { launchRun } from '../api/client/launch';
import { createControlActivities, lazyClient } from '../activities/control';
import { loadConfig, nodePartitions } from '../infra/config';
import { createNodeActivities } from '../activities/node-activities';
import { CONTROL_TASK_QUEUE, DIRECTORY_NAMESPACE, ENTITY_TASK_QUEUE, assertId } from '../workflows/domain/ids';
import { dedicatedTaskQueue, partitionTaskQueue } from '../workflows/domain/run/routing';
import { temporalClient, temporalTarget } from '../infra/temporal-connection';
import { ensureExportSchedule } from './export-schedule';
import type { ExecutionTrace } from './execution-trace';
import type { AdosMetrics } from '../infra/metrics/registry';
import { metricsSinks, nodeDurationInterceptor } from '../infra/metrics/worker-metrics';
import { releaseSinks } from './release-sink';
import { logger } from '../infra/logging/logger';

export interface AdosWorkerOptions {
  connection: NativeConnection;
  /** @default the configured namespace (TEMPORAL_NAMESPACE, the profile's, or 'default') */
  namespace?: string;
  /**
   * Several namespaces served by one process (a region's placements): each gets the whole set of
   * workers, with the workflow bundle built once. Overrides `namespace`. @default [namespace]
   */
  namespaces?: string[];
  /** Host the workflows: the runs on `ados-control`, the entities on `ados-entities`. @default true */
  control?: boolean;
  /** Node partitions to serve. @default all of 0 … ADOS_NODE_PARTITIONS-1 */
  partitions?: number[];
  /** Tenants whose dedicated queues `ados-tenant-{id}` this process serves. @default none */
  tenants?: string[];
  /** Node activities run at once per node queue (fixed slots). @default 20 */
  nodeConcurrency?: number;
  /**
   * How node workers size their activity slots: a fixed number per queue (`nodeConcurrency`), or
   * Temporal's resource-based tuner, which hands out slots while the machine's CPU and memory stay
   * below their targets (one controller for every node queue of the process). @default fixed
   */
  nodeSlots?: NodeSlots;
  /**
   * On shutdown (SIGTERM, SIGINT, `stop()`), how long node activities in flight have to finish
   * before they are cancelled (their attempt fails and Temporal retries it on another process).
   * The control queue's activities are cancelled at once. @default 300 s, the default node timeout
   */
  nodeDrainTime?: Duration;
  /** Workflow tasks at once on the control queue (the runs). @default 40 */
  workflowConcurrency?: number;
  /** Workflow tasks at once on the entities' queue (each one a tenant's or meta-learning's, a few milliseconds). @default 10 */
  entityConcurrency?: number;
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
  const all = partitions ?? [...Array(nodePartitions()).keys()];
  return [...all.map(partitionTaskQueue), ...tenants.map((t) => dedicatedTaskQueue(assertId('tenant id', t)))];
}

/** Node activity slots: fixed per queue, or handed out by Temporal's resource-based tuner. */
export type NodeSlots =
  | { kind: 'fixed'; perQueue: number }
  | {
      kind: 'resource';
      /** Machine CPU use (0–1) above which no new slot is handed out. */
      targetCpu: number;
      /** Machine memory use (0–1) above which no new slot is handed out. */
      targetMemory: number;
      /** Slots per queue handed out whatever the load. */
      minimum: number;
      /** Slots per queue at most. */
      maximum: number;
      /** The least time between two slots handed out above the minimum (the tuner then sees their effect). */
      rampMs: number;
    };

export const RESOURCE_SLOT_DEFAULTS = {
  targetCpu: 0.8,
  targetMemory: 0.8,
  minimum: 20,
  maximum: 500,
  rampMs: 10,
} as const;

/**
 * The Worker options that size each node worker's activity slots. The resource-based tuners of one
 * process share one controller, so its node queues together keep to one CPU and memory target.
 */
function nodeSlotSizer(
  slots: NodeSlots,
): () => Pick<Parameters<typeof Worker.create>[0], 'maxConcurrentActivityTaskExecutions' | 'tuner'> {
  if (slots.kind === 'fixed') return () => ({ maxConcurrentActivityTaskExecutions: slots.perQueue });
  const controller = ResourceBasedController.create({
    targetCpuUsage: slots.targetCpu,
    targetMemoryUsage: slots.targetMemory,
  });
  const unused = { minimumSlots: 1, maximumSlots: 1 };
  return () => ({
    tuner: {
      controller,
      activityTaskSlotOptions: { minimumSlots: slots.minimum, maximumSlots: slots.maximum, rampThrottle: slots.rampMs },
      // A node worker runs no workflows, local activities or Nexus tasks.
      workflowTaskSlotOptions: unused,
      localActivityTaskSlotOptions: unused,
      nexusTaskSlotOptions: unused,
    },
  });
}

/** The problem with a node slot setting, or undefined. */
export function nodeSlotsProblem(slots: NodeSlots): string | undefined {
  if (slots.kind === 'fixed')
    return Number.isInteger(slots.perQueue) && slots.perQueue >= 1
      ? undefined
      : 'fixed node slots must be a whole number ≥ 1';
  for (const [name, value] of [
    ['target CPU', slots.targetCpu],
    ['target memory', slots.targetMemory],
  ] as const)
    if (!(value > 0 && value <= 1)) return `${name} must be a fraction in (0, 1], got ${value}`;
  if (!Number.isInteger(slots.minimum) || slots.minimum < 1)
    return `minimum slots must be a whole number ≥ 1, got ${slots.minimum}`;
  if (!Number.isInteger(slots.maximum) || slots.maximum < slots.minimum)
    return `maximum slots must be a whole number ≥ the minimum (${slots.minimum}), got ${slots.maximum}`;
  if (!Number.isInteger(slots.rampMs) || slots.rampMs < 0)
    return `slot ramp must be whole milliseconds ≥ 0, got ${slots.rampMs}`;
  return undefined;
}

/**
 * One process, several workers: the control worker runs the runs (and their local activities),
 * the entity worker the tenants' entities and meta-learning, and one node worker per served queue
 * runs the DAG nodes as activities.
 */
export async function createAdosWorkers(options: AdosWorkerOptions): Promise<Worker[]> {
  const namespaces = servedNamespaces(options);
  // One workflow bundle for every namespace: it is the process's largest piece of memory.
  const workflowBundle = options.control === false ? undefined : (options.workflowBundle ?? (await bundleWorkflows()));
  const nodeSlots = options.nodeSlots ?? { kind: 'fixed', perQueue: options.nodeConcurrency ?? 20 };
  const problem = nodeSlotsProblem(nodeSlots);
  if (problem) throw new Error(problem);
  // One slot sizer for the process: a resource-based one keeps every namespace's node queues to one target.
  const slotOptions = nodeSlotSizer(nodeSlots);
  const workers: Worker[] = [];
  for (const namespace of namespaces)
    workers.push(
      ...(await namespaceWorkers(
        { ...options, ...(workflowBundle ? { workflowBundle } : {}) },
        namespace,
        slotOptions,
      )),
    );
  return workers;
}

/** The namespaces a process serves: the given list, or the one configured. */
export function servedNamespaces(
  options: Pick<AdosWorkerOptions, 'namespace' | 'namespaces' | 'clientAddress'>,
): string[] {
  if (options.namespaces?.length) return [...new Set(options.namespaces)];
  return [workerTarget(options).namespace];
}

function workerTarget(options: Pick<AdosWorkerOptions, 'namespace' | 'clientAddress'>, namespace = options.namespace) {
  return temporalTarget({
    ...(options.clientAddress ? { address: options.clientAddress } : {}),
    ...(namespace ? { namespace } : {}),
  });
}

/** A region's node heartbeats, at most this far apart (the worker's own). */
const REGION_HEARTBEAT_THROTTLE = '4s';

/** The workers of one namespace: control and entities (unless `control: false`), and one per node queue. */
async function namespaceWorkers(
  options: AdosWorkerOptions,
  namespace: string,
  slotOptions: ReturnType<typeof nodeSlotSizer>,
): Promise<Worker[]> {
  const { connection, workflowConcurrency = 40, entityConcurrency = 10 } = options;
  // The directory's namespace holds only tenants' placements (workflows on the entities' queue).
  const directory = namespace === DIRECTORY_NAMESPACE;
  const control = options.control !== false;
  const target = workerTarget(options, namespace);
  const workers: Worker[] = [];
  const activityInterceptors = [
    ...(options.trace ? [options.trace.interceptor()] : []),
    ...(options.metrics ? [nodeDurationInterceptor(options.metrics)] : []),
  ];
  // One client of the namespace's own for the exporter and the runs' releases, connected on first use.
  const client = lazyClient(target);
  const dataConverter = adosDataConverter();
  const identity = (role: string) =>
    options.identity ? { identity: `${options.identity}/${options.namespaces ? `${namespace}/` : ''}${role}` } : {};
  if (control) {
    const workflowBundle = options.workflowBundle ?? (await bundleWorkflows());
    const activities = { ...createControlActivities(launchRun, client), ...createAlertActivities() };
    const sinks = { ...metricsSinks(options.metrics), ...releaseSinks(client) };
    // The runs and the entities each have workflow-task slots of their own: a burst of runs, each
    // waiting in its first task for its tenant's admission answer, cannot hold the slots its
    // tenant's entity needs to give that answer.
    for (const [taskQueue, slots, name] of [
      ...(directory ? [] : ([[CONTROL_TASK_QUEUE, workflowConcurrency, 'control']] as const)),
      [ENTITY_TASK_QUEUE, entityConcurrency, 'entities'] as const,
    ])
      workers.push(
        await Worker.create({
          connection,
          namespace,
          taskQueue,
          workflowBundle,
          activities,
          dataConverter,
          interceptors: { activity: [...activityInterceptors, controlActivitiesEndWhenCancelled(client)] },
          sinks,
          maxConcurrentWorkflowTaskExecutions: slots,
          ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
          ...identity(name),
        }),
      );
  }
  // In a region, nodes complete through the worker's client, so that a failover loses no completion or charge.
  const inRegion = Boolean(loadConfig().ADOS_REGION);
  const activities = createNodeActivities(inRegion ? { durableCompletion: client } : {});
  for (const taskQueue of directory ? [] : nodeQueuesFor(options)) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue,
        activities,
        dataConverter,
        ...slotOptions(),
        // In a region, a node's own heartbeats go at most 4 s apart (the SDK's default is 8 s of its
        // 10-s timeout), so that when a planned failover stops them its heartbeats through the
        // client (activities/durable-completion.ts) follow before the new active region times it out.
        ...(inRegion ? { maxHeartbeatThrottleInterval: REGION_HEARTBEAT_THROTTLE } : {}),
        shutdownGraceTime: options.nodeDrainTime ?? NODE_DRAIN_DEFAULT,
        interceptors: { activity: activityInterceptors },
        ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
        ...identity(taskQueue),
      }),
    );
  }
  return workers;
}

/**
 * A control activity ends as soon as it is cancelled, by Temporal or by this worker shutting
 * down, and the Temporal call it is waiting on is cancelled with it. The sweep queries tenant
 * entities that this very worker hosts: once the worker stops polling for workflow tasks, such a
 * query waits for its timeout, and the worker's drain waited with it (until its force time, when
 * it had one). The activity's own loops stop at their next step (they look at the same signal).
 */
function controlActivitiesEndWhenCancelled(client: () => Promise<Client>): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const signal = ctx.cancellationSignal;
        // The SDK adds a listener to the signal per call: an activity may make hundreds.
        setMaxListeners(0, signal);
        const work = (await client()).withAbortSignal(signal, () => next(input));
        const cancelled = new Promise<never>((_, reject) => {
          if (signal.aborted) reject(signal.reason as Error);
          signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        });
        // Whichever loses the race still settles: neither may go unhandled.
        work.catch(() => undefined);
        cancelled.catch(() => undefined);
        return Promise.race([work, cancelled]);
      },
    },
  });
}

/** How long node activities in flight at shutdown have to finish by default: the default node timeout. */
export const NODE_DRAIN_DEFAULT = '300s';

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
  if (options.exportSchedule ?? options.control !== false)
    for (const namespace of servedNamespaces(options).filter((ns) => ns !== DIRECTORY_NAMESPACE)) {
      const client = await temporalClient(workerTarget(options, namespace));
      const several = Boolean(options.namespaces && options.namespaces.length > 1);
      const made = (
        several
          ? client.withDeadline(Date.now() + 15_000, () => ensureExportSchedule(client))
          : ensureExportSchedule(client)
      ).finally(() => client.connection.close());
      // One namespace of several (a region's) may be active in a region that is down: its Schedule,
      // made by the workers of a region that was up, replicates; the others still start.
      if (several)
        await made.catch((err: unknown) =>
          logger.warn(
            { namespace, err: String(err) },
            'export schedule not made sure of; serving the namespace anyway',
          ),
        );
      else await made;
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
