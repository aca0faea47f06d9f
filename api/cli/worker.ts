import { Command, Option } from 'commander';
import { nodeQueuesFor, startAdosWorkers } from '../../workers/ados-worker';
import { installTemporalLogging } from '../../workers/logging';
import { logger } from '../../activities/logger';
import { UserError } from '../client';
import { ExecutionTrace } from '../../workers/execution-trace';
import { environment, loadConfig } from '../../infra/config';
import { connectWorker, temporalTarget } from '../../infra/temporal-connection';
import { CONTROL_TASK_QUEUE } from '../../workflows/policy/ids';
import { createMetrics } from '../../infra/metrics';
import { freePort } from '../../infra/ports';
import { serveWorkerMetrics } from '../../workers/metrics';
import { print } from './output';
import { int, list } from './args';

const WORKER_ROLES = ['all', 'control', 'nodes'] as const;

type WorkerRole = (typeof WORKER_ROLES)[number];

/** `ados worker`: the ADOS workers of one process, by role. */
export function workerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run ADOS workers: the control role hosts the workflows (ados-control), the nodes role runs DAG nodes (ados-nodes-{n}); any number of processes per role share the load',
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
    .option('--no-control', 'do not host the workflows (same as --role nodes)')
    .option('--concurrency <n>', 'node activities at once per queue', int('concurrency', 1, 10_000), 20)
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics (ADOS and Temporal runtime) on this port (default ADOS_METRICS_PORT, 0 = off)',
      int('metrics port', 0, 65535),
    )
    .action(
      async (opts: {
        role: WorkerRole;
        partitions?: number[];
        tenants?: string[];
        control: boolean;
        concurrency: number;
        metricsPort?: number;
      }) => {
        const role: WorkerRole = opts.control ? opts.role : 'nodes';
        if (role === 'control' && (opts.partitions || opts.tenants))
          throw new UserError('--partitions and --tenants choose node queues; the control role serves none of them');
        const control = role !== 'nodes';
        const config = loadConfig(environment(), { ADOS_METRICS_PORT: opts.metricsPort });
        const target = temporalTarget();
        const temporalMetrics = config.ADOS_METRICS_PORT ? `127.0.0.1:${await freePort()}` : undefined;
        installTemporalLogging(
          config.ADOS_LOG_LEVEL === 'debug' || config.ADOS_LOG_LEVEL === 'warn' || config.ADOS_LOG_LEVEL === 'error'
            ? config.ADOS_LOG_LEVEL
            : 'info',
          temporalMetrics,
        );
        const connection = await connectWorker(target);
        const metrics = config.ADOS_METRICS_PORT ? createMetrics() : undefined;
        const metricsServer = metrics
          ? await serveWorkerMetrics(metrics, config.ADOS_METRICS_PORT, `http://${temporalMetrics}/metrics`)
          : undefined;
        const queues = role === 'control' ? [] : nodeQueuesFor(opts);
        const trace = new ExecutionTrace();
        const running = await startAdosWorkers({
          connection,
          control,
          partitions: role === 'control' ? [] : opts.partitions,
          tenants: opts.tenants,
          nodeConcurrency: opts.concurrency,
          trace,
          ...(metrics ? { metrics } : {}),
        });
        const served = [...(control ? [CONTROL_TASK_QUEUE] : []), ...queues];
        logger.info(
          {
            role,
            address: target.address,
            namespace: target.namespace,
            queues: served,
            concurrency: opts.concurrency,
            workerId: trace.workerId,
          },
          'workers running; SIGINT or SIGTERM shuts them down gracefully',
        );
        print(
          {
            role,
            address: target.address,
            namespace: target.namespace,
            connection: target.summary,
            control,
            queues: served,
            workerId: trace.workerId,
            ...(metricsServer ? { metricsUrl: `http://localhost:${config.ADOS_METRICS_PORT}/metrics` } : {}),
          },
          () =>
            `ados worker · role ${role} · queues ${served.join(', ')} · Temporal ${target.summary}${metricsServer ? ` · metrics on :${config.ADOS_METRICS_PORT}/metrics` : ''} · Ctrl-C to stop`,
        );
        await running.done;
        metricsServer?.close();
        await connection.close();
        logger.info('workers stopped');
      },
    );
}
