/**
 * The node-worker supervisor (`ados worker --role nodes --autoscale MIN..MAX`): starts and drains
 * node-worker processes on this machine as the autoscaler decides (workers/autoscale/autoscaler.ts,
 * its policy in policy.ts), and serves the autoscaler's metrics. The CLI starts it and waits.
 */
import type { Server } from 'node:http';
import { environment, loadConfig } from '../../infra/config';
import { logger } from '../../infra/logging/logger';
import { serveMetrics } from '../../infra/metrics/worker-metrics';
import { temporalClient, type TemporalTarget } from '../../infra/temporal-connection';
import { nodeQueuesFor, type NodeSlots } from '../ados-worker';
import { NodeAutoscaler } from './autoscaler';
import { AUTOSCALE_DEFAULTS } from './policy';

export interface NodeSupervisorOptions {
  target: TemporalTarget;
  autoscale: { min: number; max: number };
  slots: NodeSlots;
  partitions?: number[];
  tenants?: string[];
  /** Seconds between a step down and a step up, and of calm before a step down. */
  scaleUpAfter?: number;
  scaleDownAfter?: number;
  /** The control workers' /metrics URLs, whose admitted work the autoscaler follows. */
  controlMetrics?: string[];
  metricsPort?: number;
  drainSeconds?: number;
}

export interface NodeSupervisor {
  queues: string[];
  slotsPerProcess: number;
  /** The port its metrics are served on (0: none). */
  metricsPort: number;
  /** Drains every node-worker process, then closes the metrics server and the connection. */
  stop(): Promise<void>;
}

/** The flags an autoscaled process is started with: its queues, slots and drain, as the supervisor was given them. */
function nodeWorkerArgs(
  opts: { partitions?: number[]; tenants?: string[]; drainSeconds?: number },
  slots: NodeSlots,
): string[] {
  return [
    ...(opts.partitions ? ['--partitions', opts.partitions.join(',')] : []),
    ...(opts.drainSeconds !== undefined ? ['--drain-seconds', String(opts.drainSeconds)] : []),
    ...(opts.tenants ? ['--tenants', opts.tenants.join(',')] : []),
    ...(slots.kind === 'fixed'
      ? ['--concurrency', String(slots.perQueue)]
      : [
          '--slots',
          'resource',
          '--target-cpu',
          String(slots.targetCpu),
          '--target-memory',
          String(slots.targetMemory),
          '--min-slots',
          String(slots.minimum),
          '--max-slots',
          String(slots.maximum),
          '--slot-ramp-ms',
          String(slots.rampMs),
        ]),
  ];
}

/** Starts the autoscaler and its first processes; resolves once it runs. */
export async function startNodeSupervisor(opts: NodeSupervisorOptions): Promise<NodeSupervisor> {
  const config = loadConfig(environment(), { ADOS_METRICS_PORT: opts.metricsPort });
  const client = await temporalClient(opts.target);
  const queues = nodeQueuesFor(opts);
  // A process's capacity on each queue: its fixed slots, or the tuner's guaranteed minimum.
  const slotsPerProcess = opts.slots.kind === 'fixed' ? opts.slots.perQueue : opts.slots.minimum;
  const autoscaler = new NodeAutoscaler({
    settings: {
      ...AUTOSCALE_DEFAULTS,
      ...opts.autoscale,
      slotsPerProcess,
      ...(opts.scaleUpAfter ? { upCooldownMs: opts.scaleUpAfter * 1000 } : {}),
      ...(opts.scaleDownAfter ? { downCooldownMs: opts.scaleDownAfter * 1000 } : {}),
    },
    queues,
    workerArgs: nodeWorkerArgs(opts, opts.slots),
    ...(opts.controlMetrics ? { workFrom: opts.controlMetrics } : {}),
    env: process.env,
    client,
    logger,
  });
  const metricsServer: Server | undefined = config.ADOS_METRICS_PORT
    ? await serveMetrics(config.ADOS_METRICS_PORT, () => autoscaler.registry.metrics())
    : undefined;
  await autoscaler.start();
  logger.info(
    { ...opts.autoscale, queues, slotsPerProcess, followsWorkFrom: opts.controlMetrics ?? [] },
    'node-worker autoscaler running; SIGINT or SIGTERM drains every process',
  );
  return {
    queues,
    slotsPerProcess,
    metricsPort: metricsServer ? config.ADOS_METRICS_PORT : 0,
    stop: async () => {
      await autoscaler.stop();
      metricsServer?.close();
      await client.connection.close();
      logger.info({ decisions: autoscaler.decisions.length }, 'autoscaler stopped; every node-worker process drained');
    },
  };
}
