/** `ados k8s`: Kubernetes objects for autoscaled node workers. */
import { Option, type Command } from 'commander';
import { nodeScalingYaml } from '../../workers/autoscale/k8s';
import { nodePartitions } from '../../infra/config';
import { AUTOSCALE_DEFAULTS } from '../../workers/autoscale/policy';
import { int, positiveNumber, processRange } from './args';

/** `ados k8s nodes`: the node-worker autoscaling policy as Kubernetes objects (KEDA), printed as YAML. */
export function k8sCommands(program: Command): void {
  const k8s = program
    .command('k8s')
    .description('Kubernetes objects for ADOS (printed as YAML; validated against the schemas, not run here)');
  k8s
    .command('nodes')
    .description(
      "per node partition, a Deployment of `ados worker --role nodes` and a KEDA ScaledObject scaling it on the queue's backlog and the nodes its pods run, with the thresholds and cool-downs of `ados worker --autoscale`",
    )
    .requiredOption('--image <image>', 'the ADOS container image, e.g. registry.internal/ados:1.0.0')
    .requiredOption('--temporal-address <host:port>', 'the Temporal frontend as the pods and KEDA reach it')
    .option('--temporal-namespace <name>', 'the Temporal namespace', 'default')
    .addOption(
      new Option('--autoscale <MIN..MAX>', 'pods per partition')
        .argParser(processRange({ max: 1000, what: 'pods per partition' }))
        .default({ min: 1, max: 10 }, '1..10'),
    )
    .option('--partitions <n>', 'node partitions (ADOS_NODE_PARTITIONS)', int('partitions', 1, 1024))
    .option('--concurrency <n>', "a pod's node slots: a pod's worth of backlog", int('concurrency', 1, 10_000), 20)
    .option(
      '--prometheus <url>',
      "the Prometheus that scrapes the pods' /metrics",
      'http://prometheus.monitoring.svc:9090',
    )
    .option('--namespace <name>', 'the Kubernetes namespace', 'ados')
    .option('--tls-secret <name>', 'the Secret with the Temporal client certificate', 'ados-temporal-client')
    .option(
      '--scale-up-after <seconds>',
      `the least time between two steps up (default ${AUTOSCALE_DEFAULTS.upCooldownMs / 1000})`,
      positiveNumber('scale-up cool-down'),
    )
    .option(
      '--scale-down-after <seconds>',
      `calm before a step down, one pod at a time (default ${AUTOSCALE_DEFAULTS.downCooldownMs / 1000})`,
      positiveNumber('scale-down cool-down'),
    )
    .action(
      (opts: {
        image: string;
        temporalAddress: string;
        temporalNamespace: string;
        autoscale: { min: number; max: number };
        partitions?: number;
        concurrency: number;
        prometheus: string;
        namespace: string;
        tlsSecret: string;
        scaleUpAfter?: number;
        scaleDownAfter?: number;
      }) => {
        process.stdout.write(
          nodeScalingYaml({
            ...opts.autoscale,
            partitions: opts.partitions ?? nodePartitions(),
            slotsPerProcess: opts.concurrency,
            image: opts.image,
            temporalAddress: opts.temporalAddress,
            temporalNamespace: opts.temporalNamespace,
            prometheusUrl: opts.prometheus,
            namespace: opts.namespace,
            tlsSecret: opts.tlsSecret,
            ...(opts.scaleUpAfter ? { upCooldownSeconds: opts.scaleUpAfter } : {}),
            ...(opts.scaleDownAfter ? { downCooldownSeconds: opts.scaleDownAfter } : {}),
          }),
        );
      },
    );
}
