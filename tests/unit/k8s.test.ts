import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { nodeScalingObjects, nodeScalingYaml, type NodeScalingOptions } from '../../workers/autoscale/k8s';
import { AUTOSCALE_DEFAULTS } from '../../workers/autoscale/policy';

const options: NodeScalingOptions = {
  partitions: 4,
  min: 1,
  max: 10,
  slotsPerProcess: 20,
  image: 'registry.internal/ados:1.0.0',
  temporalAddress: 'temporal-frontend.temporal:7233',
  temporalNamespace: 'default',
  prometheusUrl: 'http://prometheus.monitoring.svc:9090',
};

/** The models of Kubernetes' own schemas and KEDA's CRDs (ES modules only). */
async function models(): Promise<Record<string, new (data: never) => { validate(): void }>> {
  const [{ Deployment }, { ScaledObject, TriggerAuthentication }] = await Promise.all([
    import('kubernetes-models/apps/v1'),
    import('@kubernetes-models/keda/keda.sh/v1alpha1'),
  ]);
  return { Deployment, ScaledObject, TriggerAuthentication } as never;
}

/** Each object checked against its schema. */
async function validate(object: Record<string, unknown>): Promise<void> {
  const model = (await models())[object.kind as string];
  assert.ok(model, `a schema for ${String(object.kind)}`);
  new model(object as never).validate();
}

describe('Kubernetes objects for node autoscaling (ados k8s nodes)', () => {
  test('per partition a Deployment and a ScaledObject, and one TriggerAuthentication: each valid against its schema', async () => {
    const objects = parseAllDocuments(nodeScalingYaml(options)).map((d) => d.toJS() as Record<string, unknown>);
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['TriggerAuthentication', ...Array.from({ length: 4 }, () => ['Deployment', 'ScaledObject']).flat()],
    );
    for (const object of objects) await validate(object);
    // The YAML is what the objects are.
    assert.deepEqual(objects, JSON.parse(JSON.stringify(nodeScalingObjects(options))));
  });

  test("a ScaledObject carries the supervisor's thresholds: a pod's slots of backlog or of running nodes per pod, the admitted work ahead, up at once, down one pod per cool-down", () => {
    const objects = nodeScalingObjects({ ...options, partitions: 2 });
    const scaled = objects.filter((o) => o.kind === 'ScaledObject') as unknown as Array<{
      metadata: { name: string };
      spec: {
        minReplicaCount: number;
        maxReplicaCount: number;
        triggers: Array<{ type: string; metadata: Record<string, string> }>;
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: {
              scaleUp: {
                stabilizationWindowSeconds: number;
                policies: Array<{ value: number; periodSeconds: number }>;
              };
              scaleDown: {
                stabilizationWindowSeconds: number;
                policies: Array<{ value: number; periodSeconds: number }>;
              };
            };
          };
        };
      };
    }>;
    assert.deepEqual(
      scaled.map((s) => s.metadata.name),
      ['ados-nodes-0', 'ados-nodes-1'],
    );
    for (const [k, s] of scaled.entries()) {
      assert.equal(s.spec.minReplicaCount, 1);
      assert.equal(s.spec.maxReplicaCount, 10);
      const temporal = s.spec.triggers.find((t) => t.type === 'temporal')!;
      assert.equal(temporal.metadata.taskQueue, `ados-nodes-${k}`);
      assert.equal(temporal.metadata.targetQueueSize, '20');
      const [running, work] = s.spec.triggers.filter((t) => t.type === 'prometheus');
      assert.match(running!.metadata.query!, new RegExp(`ados_node_activities_running\\{queue="ados-nodes-${k}"\\}`));
      assert.equal(running!.metadata.threshold, '20');
      // The admitted work ahead: a pod per 20 slots × 50% × a 30-s down cool-down of node-seconds.
      assert.match(
        work!.metadata.query!,
        new RegExp(`ados_admitted_node_seconds_remaining\\{queue="ados-nodes-${k}"\\}`),
      );
      assert.equal(work!.metadata.threshold, '300');
      const { scaleUp, scaleDown } = s.spec.advanced.horizontalPodAutoscalerConfig.behavior;
      assert.equal(scaleUp.stabilizationWindowSeconds, 0);
      assert.deepEqual(scaleUp.policies, [
        { type: 'Pods', value: 10, periodSeconds: AUTOSCALE_DEFAULTS.upCooldownMs / 1000 },
      ]);
      assert.equal(scaleDown.stabilizationWindowSeconds, AUTOSCALE_DEFAULTS.downCooldownMs / 1000);
      assert.deepEqual(scaleDown.policies, [
        { type: 'Pods', value: 1, periodSeconds: AUTOSCALE_DEFAULTS.downCooldownMs / 1000 },
      ]);
    }
    const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as Array<{
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    }>;
    assert.deepEqual(
      deployments.map((d) => d.spec.template.spec.containers[0]!.args.slice(0, 5)),
      [
        ['worker', '--role', 'nodes', '--partitions', '0'],
        ['worker', '--role', 'nodes', '--partitions', '1'],
      ],
    );
  });

  test('a schema catches a broken object: a ScaledObject without its target is refused', async () => {
    const scaled = nodeScalingObjects(options).find((o) => o.kind === 'ScaledObject')!;
    const broken = { ...scaled, spec: { ...(scaled.spec as object), scaleTargetRef: undefined } };
    await assert.rejects(validate(JSON.parse(JSON.stringify(broken)) as Record<string, unknown>), /scaleTargetRef/);
  });
});
