/** Kubernetes objects (KEDA) for the same autoscaling policy. */
import { stringify } from 'yaml';
import { AUTOSCALE_DEFAULTS } from './policy';
import { partitionTaskQueue } from '../../workflows/domain/run/routing';

/**
 * The node-worker autoscaling policy of `ados worker --autoscale` (workers/autoscale/policy.ts),
 * expressed for Kubernetes: per node-queue partition, a Deployment of `ados worker --role nodes
 * --partitions k` and a KEDA ScaledObject that scales it on that queue's backlog (KEDA's Temporal
 * scaler), on the nodes its pods run (`ados_node_activities_running`, through Prometheus) and on
 * the admitted runs' remaining node-seconds (`ados_admitted_node_seconds_remaining`, from the
 * control workers), with the supervisor's thresholds and cool-downs as the HPA's behaviour. `ados k8s nodes` prints them.
 * Validated against the Kubernetes and KEDA schemas by tests/unit/k8s.test.ts; not run on a cluster here.
 */
export interface NodeScalingOptions {
  /** ADOS_NODE_PARTITIONS: one Deployment and one ScaledObject per partition. */
  partitions: number;
  min: number;
  max: number;
  /** Node activities one pod runs at once (its --concurrency): a pod's worth of backlog. */
  slotsPerProcess: number;
  image: string;
  /** The Temporal frontend, as the pods and KEDA reach it. */
  temporalAddress: string;
  temporalNamespace: string;
  /** The Prometheus that scrapes the node and control pods' /metrics (port 9464). */
  prometheusUrl: string;
  /** The Kubernetes namespace. @default ados */
  namespace?: string;
  /** Secret with the Temporal client certificate (tls.crt, tls.key, ca.crt). @default ados-temporal-client */
  tlsSecret?: string;
  upCooldownSeconds?: number;
  downCooldownSeconds?: number;
}

const METRICS_PORT = 9464;

export function nodeScalingObjects(o: NodeScalingOptions): Array<Record<string, unknown>> {
  const namespace = o.namespace ?? 'ados';
  const tlsSecret = o.tlsSecret ?? 'ados-temporal-client';
  const upSeconds = o.upCooldownSeconds ?? AUTOSCALE_DEFAULTS.upCooldownMs / 1000;
  const downSeconds = o.downCooldownSeconds ?? AUTOSCALE_DEFAULTS.downCooldownMs / 1000;
  const auth = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'TriggerAuthentication',
    metadata: { name: 'ados-temporal', namespace },
    spec: {
      secretTargetRef: [
        { parameter: 'cert', name: tlsSecret, key: 'tls.crt' },
        { parameter: 'key', name: tlsSecret, key: 'tls.key' },
        { parameter: 'ca', name: tlsSecret, key: 'ca.crt' },
      ],
    },
  };
  const perPartition = Array.from({ length: o.partitions }, (_, k) => {
    const name = `ados-nodes-${k}`;
    const queue = partitionTaskQueue(k);
    const labels = { app: 'ados', role: 'nodes', partition: String(k) };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: o.min,
        selector: { matchLabels: labels },
        template: {
          metadata: {
            labels,
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT) },
          },
          spec: {
            // Longer than the longest node, so that SIGTERM drains (ados worker finishes its activities first).
            terminationGracePeriodSeconds: 330,
            containers: [
              {
                name: 'worker',
                image: o.image,
                args: [
                  'worker',
                  '--role',
                  'nodes',
                  '--partitions',
                  String(k),
                  '--concurrency',
                  String(o.slotsPerProcess),
                  '--metrics-port',
                  String(METRICS_PORT),
                ],
                env: [
                  { name: 'TEMPORAL_ADDRESS', value: o.temporalAddress },
                  { name: 'TEMPORAL_NAMESPACE', value: o.temporalNamespace },
                  { name: 'ADOS_NODE_PARTITIONS', value: String(o.partitions) },
                  { name: 'TEMPORAL_TLS_CLIENT_CERT_PATH', value: '/tls/tls.crt' },
                  { name: 'TEMPORAL_TLS_CLIENT_KEY_PATH', value: '/tls/tls.key' },
                  { name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', value: '/tls/ca.crt' },
                ],
                ports: [{ name: 'metrics', containerPort: METRICS_PORT }],
                volumeMounts: [{ name: 'tls', mountPath: '/tls', readOnly: true }],
              },
            ],
            volumes: [{ name: 'tls', secret: { secretName: tlsSecret } }],
          },
        },
      },
    };
    const scaledObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name, namespace, labels },
      spec: {
        scaleTargetRef: { name },
        minReplicaCount: o.min,
        maxReplicaCount: o.max,
        pollingInterval: 2,
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: {
              // Up as far as needed at once, not again within the up cool-down.
              scaleUp: {
                stabilizationWindowSeconds: 0,
                selectPolicy: 'Max',
                policies: [{ type: 'Pods', value: o.max, periodSeconds: upSeconds }],
              },
              // Down one pod at a time, after the down cool-down of calm.
              scaleDown: {
                stabilizationWindowSeconds: downSeconds,
                selectPolicy: 'Min',
                policies: [{ type: 'Pods', value: 1, periodSeconds: downSeconds }],
              },
            },
          },
        },
        triggers: [
          // A pod's worth of waiting tasks per pod (the supervisor's "a process's worth of them").
          {
            type: 'temporal',
            metadata: {
              endpoint: o.temporalAddress,
              namespace: o.temporalNamespace,
              taskQueue: queue,
              queueTypes: 'activity',
              targetQueueSize: String(o.slotsPerProcess),
              activationTargetQueueSize: '0',
            },
            authenticationRef: { name: auth.metadata.name },
          },
          // The nodes the pods run, a pod's slots each: KEDA takes the larger of the two, so running
          // nodes hold the pods that run them (the supervisor counts running + backlog).
          {
            type: 'prometheus',
            metadata: {
              serverAddress: o.prometheusUrl,
              query: `sum(ados_node_activities_running{queue="${queue}"})`,
              threshold: String(o.slotsPerProcess),
            },
          },
          // The admitted runs' remaining node-seconds on the queue, from the control workers' /metrics:
          // a pod per what one pod does half busy over a down cool-down, so work ahead holds the pods
          // that will run it (the supervisor's hold rule).
          {
            type: 'prometheus',
            metadata: {
              serverAddress: o.prometheusUrl,
              query: `sum(ados_admitted_node_seconds_remaining{queue="${queue}"})`,
              threshold: String(o.slotsPerProcess * AUTOSCALE_DEFAULTS.downUtilization * downSeconds),
            },
          },
        ],
      },
    };
    return [deployment, scaledObject];
  });
  return [auth, ...perPartition.flat()];
}

/** The objects as one multi-document YAML stream. */
export function nodeScalingYaml(o: NodeScalingOptions): string {
  return nodeScalingObjects(o)
    .map((object) => stringify(object, { aliasDuplicateObjects: false }))
    .join('---\n');
}
