/** `ados worker`: the workers, with their roles, slots and autoscaling. */
import { Command, Option } from 'commander';
import {
  RESOURCE_SLOT_DEFAULTS,
  nodeQueuesFor,
  nodeSlotsProblem,
  startAdosWorkers,
  type NodeSlots,
} from '../../workers/ados-worker';
import { AUTOSCALE_DEFAULTS } from '../../workers/autoscale/policy';
import { startNodeSupervisor, type NodeSupervisorOptions } from '../../workers/autoscale/supervisor';
import { installTemporalLogging } from '../../infra/logging/runtime-logger';
import { logger } from '../../infra/logging/logger';
import { UserError } from '../client';
import { ExecutionTrace } from '../../workers/execution-trace';
import { environment, loadConfig } from '../../infra/config';
import { connectTemporal, temporalTarget, type TemporalTarget } from '../../infra/temporal-connection';
import { regionNamespaces } from '../../infra/cluster/regions';
import { connectWorker } from '../../infra/worker-connection';
import { CONTROL_TASK_QUEUE, ENTITY_TASK_QUEUE } from '../../workflows/domain/ids';
import { createMetrics } from '../../infra/metrics/registry';
import { freePort } from '../../infra/ports';
import { exportNodeBacklog, serveWorkerMetrics } from '../../infra/metrics/worker-metrics';
import { lazyClient } from '../../activities/control';
import { print } from './output';
import { fraction, int, list, positiveNumber, processRange, untilStopped, urlList } from './args';

const WORKER_ROLES = ['all', 'control', 'nodes'] as const;

type WorkerRole = (typeof WORKER_ROLES)[number];

/** `ados worker`: the ADOS workers of one process, by role. */
export function workerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run ADOS workers: the control role hosts the workflows (runs on ados-control, tenant entities on ados-entities), the nodes role runs DAG nodes (ados-nodes-{n}); any number of processes per role share the load',
    )
    .addOption(
      new Option('--role <role>', 'what this process serves: control, nodes, or all')
        .choices(WORKER_ROLES)
        .default('all'),
    )
    .option('--partitions <list>', 'node partitions to serve, e.g. 0,1 (default: all)', (raw) =>
      list(raw).map(int('partition', 0, 1023)),
    )
    .option('--tenants <list>', 'tenants whose dedicated queues (ados-tenant-{id}) to serve', list)
    .option(
      '--namespaces <list>',
      "namespaces to serve, comma-separated, or `region`: every placement namespace this region's cluster holds, active or standby (needs ADOS_REGION; default: the configured namespace)",
      list,
    )
    .option('--no-control', 'do not host the workflows (same as --role nodes)')
    .option('--concurrency <n>', 'node activities at once per queue (fixed slots)', int('concurrency', 1, 10_000), 20)
    .addOption(
      new Option(
        '--slots <kind>',
        "how node slots are sized: fixed (--concurrency per queue) or resource (Temporal's resource-based tuner: slots while CPU and memory stay below their targets)",
      )
        .choices(['fixed', 'resource'])
        .default('fixed'),
    )
    .option(
      '--target-cpu <fraction>',
      `with --slots resource: the machine's CPU use to stay below (default ${RESOURCE_SLOT_DEFAULTS.targetCpu})`,
      fraction('target CPU'),
    )
    .option(
      '--target-memory <fraction>',
      `with --slots resource: the machine's memory use to stay below (default ${RESOURCE_SLOT_DEFAULTS.targetMemory})`,
      fraction('target memory'),
    )
    .option(
      '--min-slots <n>',
      `with --slots resource: slots per queue whatever the load (default ${RESOURCE_SLOT_DEFAULTS.minimum})`,
      int('min slots', 1, 10_000),
    )
    .option(
      '--max-slots <n>',
      `with --slots resource: slots per queue at most (default ${RESOURCE_SLOT_DEFAULTS.maximum})`,
      int('max slots', 1, 10_000),
    )
    .option(
      '--slot-ramp-ms <ms>',
      `with --slots resource: the least time between two slots handed out above the minimum (default ${RESOURCE_SLOT_DEFAULTS.rampMs})`,
      int('slot ramp', 0, 60_000),
    )
    .option(
      '--drain-seconds <seconds>',
      'on SIGTERM or SIGINT, how long node activities in flight have to finish before they are cancelled and retried elsewhere (default 300, the default node timeout; 0 cancels at once)',
      int('drain seconds', 0, 86_400),
    )
    .option(
      '--autoscale <MIN..MAX>',
      'with --role nodes: supervise MIN to MAX node-worker processes on this machine, following the node queues (backlog and its age from Temporal, nodes running from each process)',
      processRange(),
    )
    .option(
      '--scale-up-after <seconds>',
      `with --autoscale: the least time between a step down and a step up (default ${AUTOSCALE_DEFAULTS.upCooldownMs / 1000})`,
      positiveNumber('scale-up cool-down'),
    )
    .option(
      '--scale-down-after <seconds>',
      `with --autoscale: how long the queues must stay calm, and the last change be past, before a step down (default ${AUTOSCALE_DEFAULTS.downCooldownMs / 1000})`,
      positiveNumber('scale-down cool-down'),
    )
    .option(
      '--control-metrics <urls>',
      "with --autoscale: the control workers' /metrics URLs, comma-separated (ados worker --role control --metrics-port P): the admitted runs' remaining node-seconds then hold processes while work is ahead and release them at once when none is left",
      urlList('--control-metrics'),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics (ADOS and Temporal runtime) on this port (default ADOS_METRICS_PORT, 0 = off)',
      int('metrics port', 0, 65535),
    )
    .action(
      async (
        opts: SlotFlags & {
          role: WorkerRole;
          partitions?: number[];
          tenants?: string[];
          namespaces?: string[];
          control: boolean;
          autoscale?: { min: number; max: number };
          scaleUpAfter?: number;
          scaleDownAfter?: number;
          controlMetrics?: string[];
          metricsPort?: number;
          drainSeconds?: number;
        },
      ) => {
        // Started by an autoscaler (`--autoscale`) with an IPC channel: when the supervisor goes away
        // (even killed with SIGKILL), shut down as on SIGTERM: workers already running drain their
        // activities first; a process still starting simply ends. Registered first, so that a
        // supervisor lost during start-up is not missed.
        if (process.channel) {
          process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
          process.channel.unref();
        }
        const role: WorkerRole = opts.control ? opts.role : 'nodes';
        if (role === 'control' && (opts.partitions || opts.tenants))
          throw new UserError('--partitions and --tenants choose node queues; the control role serves none of them');
        const control = role !== 'nodes';
        const nodeSlots = nodeSlotsFrom(opts);
        if (opts.autoscale === undefined && (opts.scaleUpAfter ?? opts.scaleDownAfter) !== undefined)
          throw new UserError('--scale-up-after and --scale-down-after tune --autoscale: add --autoscale MIN..MAX');
        if (opts.autoscale === undefined && opts.controlMetrics)
          throw new UserError('--control-metrics is what --autoscale follows: add --autoscale MIN..MAX');
        if (opts.autoscale !== undefined) {
          if (role !== 'nodes')
            throw new UserError('--autoscale supervises node-worker processes: use it with --role nodes');
          await superviseNodeWorkers({ ...opts, autoscale: opts.autoscale }, nodeSlots);
          return;
        }
        const config = loadConfig(environment(), { ADOS_METRICS_PORT: opts.metricsPort });
        const target = temporalTarget();
        const temporalMetrics = config.ADOS_METRICS_PORT ? `127.0.0.1:${await freePort()}` : undefined;
        installTemporalLogging(
          config.ADOS_LOG_LEVEL === 'debug' || config.ADOS_LOG_LEVEL === 'warn' || config.ADOS_LOG_LEVEL === 'error'
            ? config.ADOS_LOG_LEVEL
            : 'info',
          temporalMetrics,
        );
        const namespaces = await namespacesToServe(opts.namespaces, config.ADOS_REGION, target);
        const connection = await connectWorker(target);
        const metrics = config.ADOS_METRICS_PORT ? createMetrics() : undefined;
        const metricsServer = metrics
          ? await serveWorkerMetrics(metrics, config.ADOS_METRICS_PORT, `http://${temporalMetrics}/metrics`)
          : undefined;
        const queues = role === 'control' ? [] : nodeQueuesFor(opts);
        // The node queues' backlog beside the admitted work, for an external autoscaler; a process
        // under `--autoscale` leaves it to its supervisor, which reads the queues itself.
        if (metrics && !process.channel)
          exportNodeBacklog(metrics, lazyClient(target), role === 'control' ? nodeQueuesFor({}) : queues);
        const trace = new ExecutionTrace();
        const running = await startAdosWorkers({
          connection,
          control,
          partitions: role === 'control' ? [] : opts.partitions,
          tenants: opts.tenants,
          ...(namespaces ? { namespaces } : {}),
          nodeSlots,
          ...(opts.drainSeconds !== undefined ? { nodeDrainTime: opts.drainSeconds * 1000 } : {}),
          trace,
          ...(metrics ? { metrics } : {}),
        });
        const served = [...(control ? [CONTROL_TASK_QUEUE, ENTITY_TASK_QUEUE] : []), ...queues];
        logger.info(
          {
            role,
            address: target.address,
            namespaces: namespaces ?? [target.namespace],
            queues: served,
            slots: nodeSlots,
            workerId: trace.workerId,
          },
          'workers running; SIGINT or SIGTERM shuts them down gracefully',
        );
        print(
          {
            role,
            address: target.address,
            namespace: target.namespace,
            namespaces: namespaces ?? [target.namespace],
            connection: target.summary,
            control,
            queues: served,
            slots: nodeSlots,
            workerId: trace.workerId,
            ...(metricsServer ? { metricsUrl: `http://localhost:${config.ADOS_METRICS_PORT}/metrics` } : {}),
          },
          () =>
            `ados worker · role ${role} · queues ${served.join(', ')}${namespaces ? ` · namespaces ${namespaces.join(', ')}` : ''} · Temporal ${target.summary}${metricsServer ? ` · metrics on :${config.ADOS_METRICS_PORT}/metrics` : ''} · Ctrl-C to stop`,
        );
        await running.done;
        metricsServer?.close();
        await connection.close();
        logger.info('workers stopped');
      },
    );
}

/** The namespaces `--namespaces` names (`region`: every placement namespace of this region's cluster), or undefined for the configured one. */
async function namespacesToServe(
  given: string[] | undefined,
  region: string | undefined,
  target: TemporalTarget,
): Promise<string[] | undefined> {
  if (!given) return undefined;
  if (!given.includes('region')) return given;
  if (given.length > 1) throw new UserError('--namespaces region stands alone: it means every namespace of the region');
  if (!region)
    throw new UserError(
      '--namespaces region: this process is in no region; set ADOS_REGION (a region of ados cluster up --regions)',
    );
  const connection = await connectTemporal(target);
  try {
    return await regionNamespaces(connection, region);
  } finally {
    await connection.close();
  }
}

/** The flags that size node slots. */
interface SlotFlags {
  concurrency: number;
  slots: NodeSlots['kind'];
  targetCpu?: number;
  targetMemory?: number;
  minSlots?: number;
  maxSlots?: number;
  slotRampMs?: number;
}

/** The node slot setting the flags ask for; resource-tuner flags without `--slots resource` are an error. */
function nodeSlotsFrom(opts: SlotFlags): NodeSlots {
  const tunerFlags = (
    [
      ['--target-cpu', opts.targetCpu],
      ['--target-memory', opts.targetMemory],
      ['--min-slots', opts.minSlots],
      ['--max-slots', opts.maxSlots],
      ['--slot-ramp-ms', opts.slotRampMs],
    ] as const
  ).filter(([, value]) => value !== undefined);
  if (opts.slots === 'fixed') {
    if (tunerFlags.length > 0)
      throw new UserError(
        `${tunerFlags.map(([flag]) => flag).join(', ')} size resource-based slots: add --slots resource`,
      );
    return { kind: 'fixed', perQueue: opts.concurrency };
  }
  const slots: NodeSlots = {
    kind: 'resource',
    targetCpu: opts.targetCpu ?? RESOURCE_SLOT_DEFAULTS.targetCpu,
    targetMemory: opts.targetMemory ?? RESOURCE_SLOT_DEFAULTS.targetMemory,
    minimum: opts.minSlots ?? Math.min(RESOURCE_SLOT_DEFAULTS.minimum, opts.maxSlots ?? Infinity),
    maximum: opts.maxSlots ?? Math.max(RESOURCE_SLOT_DEFAULTS.maximum, opts.minSlots ?? 0),
    rampMs: opts.slotRampMs ?? RESOURCE_SLOT_DEFAULTS.rampMs,
  };
  const problem = nodeSlotsProblem(slots);
  if (problem) throw new UserError(problem);
  return slots;
}

/** `ados worker --role nodes --autoscale MIN..MAX`: the supervisor, until SIGINT or SIGTERM. */
async function superviseNodeWorkers(
  opts: Omit<NodeSupervisorOptions, 'target' | 'slots'>,
  slots: NodeSlots,
): Promise<void> {
  const range = opts.autoscale;
  const target = temporalTarget();
  const supervisor = await startNodeSupervisor({ ...opts, target, slots });
  const { queues, slotsPerProcess, metricsPort } = supervisor;
  print(
    {
      role: 'nodes',
      autoscale: range,
      queues,
      slotsPerProcess,
      connection: target.summary,
      ...(metricsPort ? { metricsUrl: `http://localhost:${metricsPort}/metrics` } : {}),
    },
    () =>
      `ados worker · autoscaling ${range.min}..${range.max} node-worker processes · queues ${queues.join(', ')} · Temporal ${target.summary}${metricsPort ? ` · metrics on :${metricsPort}/metrics` : ''} · Ctrl-C to stop`,
  );
  await untilStopped();
  await supervisor.stop();
}
