/** A run's DAG: its types, and the graph checks (unknown deps, cycles). */
import type { z } from 'zod';
import type * as Schemas from './dag-schema';
import { deliveryRunWorkflowId, isValidId, parseDeliveryRunWorkflowId } from '../ids';

export { DAG_LIMITS, NODE_KIND, TAG_KEY } from './dag-limits';
import { DAG_LIMITS, NODE_KIND } from './dag-limits';

/** The schemas, built on first use (see dag-schema.ts). */
const schemas = (): typeof Schemas => require('./dag-schema') as typeof Schemas;

export type DeliveryRunInput = z.input<typeof Schemas.deliveryRunInputSchema>;
export type DeliveryRunSpec = z.output<typeof Schemas.deliveryRunInputSchema>;
export type DagNode = z.output<typeof Schemas.dagNodeSchema>;
export type Dag = z.output<typeof Schemas.dagSchema>;

function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.length === 0
    ? 'input'
    : path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[');
}

/** Graph problems a schema cannot see: duplicate ids, unknown deps, self-deps and cycles. */
export function graphProblems(nodes: readonly Pick<DagNode, 'id' | 'deps'>[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const node of nodes) {
    if (ids.has(node.id)) problems.push(`duplicate node id: ${node.id}`);
    ids.add(node.id);
  }
  for (const node of nodes) {
    for (const dep of node.deps) {
      if (dep === node.id) problems.push(`node ${node.id} depends on itself`);
      else if (!ids.has(dep)) problems.push(`node ${node.id} depends on unknown node ${dep}`);
    }
  }
  problems.push(...findCycles(nodes).map((cycle) => `cycle: ${cycle.join(' -> ')}`));
  return problems;
}

/**
 * Every elementary cycle found by one depth-first search, each reported once as a path that
 * starts and ends at the same node (`a -> b -> a`). Self-dependencies are reported separately.
 */
export function findCycles(nodes: readonly Pick<DagNode, 'id' | 'deps'>[]): string[][] {
  const depsOf = new Map<string, string[]>();
  for (const node of nodes)
    if (!depsOf.has(node.id))
      depsOf.set(
        node.id,
        node.deps.filter((d) => d !== node.id),
      );
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];

  // Iterative DFS so that a 500-node chain cannot overflow the stack.
  for (const root of depsOf.keys()) {
    if (state.has(root)) continue;
    const frames: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, 'visiting');
    stack.push(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const deps = depsOf.get(frame.id) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (!depsOf.has(dep)) continue;
        const seen = state.get(dep);
        if (seen === 'visiting') {
          // The path runs from dep to here along "depends on" edges; report it in execution order.
          const path = stack.slice(stack.indexOf(dep));
          cycles.push([...path, dep].reverse());
        } else if (seen === undefined) {
          state.set(dep, 'visiting');
          stack.push(dep);
          frames.push({ id: dep, next: 0 });
        }
      } else {
        state.set(frame.id, 'done');
        stack.pop();
        frames.pop();
      }
    }
  }
  return cycles;
}

export type ValidationResult = { ok: true; spec: DeliveryRunSpec } | { ok: false; problems: string[] };

/** What a run is checked against besides its own input. */
export interface RunRules {
  /** The node kinds the deployment's workers know; absent, kinds are left to the run's worker to check. */
  knownKinds?: ReadonlySet<string> | readonly string[];
  /**
   * The run's workflow id, which must be `delivery-run:{tenantId}:{runId}` for the input's tenant
   * (and its runId, when the input gives one): a run belongs to one tenant, and the exporter, the
   * API, the codec's key and the charge all read it from the id.
   */
  workflowId?: string;
}

/**
 * The one validation of a run's start, used by every starter (CLI, HTTP API, TypeScript client, a
 * run's own worker) and by the run itself as its last line of defence: the schema, the graph, the
 * node kinds the deployment knows, sizes, and the workflow id's tenant and run. Every problem is
 * listed, so a user fixes them all in one round. The spec's runId is the input's, else the id's (if given).
 */
export function validateDeliveryRunInput(input: unknown, rules: RunRules = {}): ValidationResult {
  const parsed = schemas().deliveryRunInputSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`),
    };
  }
  return checkSpec(parsed.data, rules);
}

/**
 * A run's check inside its workflow when a starter (or the run's own worker) already made the one
 * validation: the same checks, with the schema's part done by `plainSpec` when the input is plain
 * enough for it, so the run builds no schema object; else by the schema, as at the start.
 */
export function recheckDeliveryRunInput(input: unknown, rules: RunRules = {}): ValidationResult {
  const spec = plainSpec(input);
  return spec ? checkSpec(spec, rules) : validateDeliveryRunInput(input, rules);
}

/** The checks past the schema: the graph, the kinds, the sizes and the workflow id's tenant and run. */
function checkSpec(spec: DeliveryRunSpec, rules: RunRules): ValidationResult {
  const problems = graphProblems(spec.dag.nodes);
  if (rules.knownKinds) {
    const known = new Set(rules.knownKinds);
    for (const node of spec.dag.nodes) {
      if (!known.has(node.kind))
        problems.push(`node ${node.id} has unknown kind ${node.kind} (known: ${[...known].sort().join(', ')})`);
    }
  }
  for (const node of spec.dag.nodes) {
    if (JSON.stringify(node.params).length > DAG_LIMITS.maxParamsChars) {
      problems.push(`node ${node.id} params exceed ${DAG_LIMITS.maxParamsChars} characters`);
    }
  }
  const owner = rules.workflowId === undefined ? undefined : ownerProblem(rules.workflowId, spec);
  if (owner) problems.push(owner);
  const runId = spec.runId ?? (rules.workflowId ? parseDeliveryRunWorkflowId(rules.workflowId)?.runId : undefined);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, spec: runId === undefined ? spec : { ...spec, runId } };
}

/** Why a workflow id and an input disagree on whose run this is, or undefined when they agree. */
function ownerProblem(workflowId: string, spec: DeliveryRunSpec): string | undefined {
  const ids = parseDeliveryRunWorkflowId(workflowId);
  const expected = deliveryRunWorkflowId(spec.tenantId, spec.runId ?? '<runId>');
  if (!ids)
    return `workflow id ${workflowId}: a run's workflow id is delivery-run:{tenantId}:{runId} (here ${expected})`;
  if (ids.tenantId !== spec.tenantId)
    return `workflow id ${workflowId} names tenant ${ids.tenantId} but the input's tenantId is ${spec.tenantId}: a run belongs to one tenant (start it as ${expected})`;
  if (spec.runId !== undefined && ids.runId !== spec.runId)
    return `workflow id ${workflowId} names run ${ids.runId} but the input's runId is ${spec.runId} (start it as ${expected})`;
  return undefined;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
const onlyKeys = (x: Record<string, unknown>, keys: readonly string[]) => Object.keys(x).every((k) => keys.includes(k));
const intIn = (x: unknown, min: number, max: number) =>
  Number.isInteger(x) && (x as number) >= min && (x as number) <= max;
const optional = (x: unknown, ok: (x: unknown) => boolean) => x === undefined || ok(x);

/**
 * The schema's output for an input in the plain form every starter sends (no tags, no retry
 * policy), with the schema's defaults, its key order and none of its objects; undefined for any
 * input it is not sure of, which then goes through the schema. It never accepts what the schema
 * refuses, nor answers differently (tests/unit/dag.test.ts holds it to that on generated inputs).
 */
export function plainSpec(input: unknown): DeliveryRunSpec | undefined {
  if (!isPlainObject(input) || !onlyKeys(input, ['tenantId', 'runId', 'priority', 'maxParallelism', 'dag'])) return;
  const { tenantId, runId, priority, maxParallelism, dag } = input;
  if (!isValidId(tenantId) || !optional(runId, isValidId)) return;
  if (!optional(priority, (p) => intIn(p, 1, 5))) return;
  if (!optional(maxParallelism, (m) => intIn(m, 1, DAG_LIMITS.maxParallelism))) return;
  if (!isPlainObject(dag) || !onlyKeys(dag, ['name', 'nodes'])) return;
  const { name, nodes } = dag;
  if (!optional(name, (n) => typeof n === 'string' && n.length >= 1 && n.length <= 200)) return;
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > DAG_LIMITS.maxNodes) return;
  const specNodes: DagNode[] = [];
  for (const node of nodes as unknown[]) {
    const plain = plainNode(node);
    if (!plain) return;
    specNodes.push(plain);
  }
  return {
    tenantId,
    ...(runId !== undefined ? { runId: runId as string } : {}),
    priority: (priority as number | undefined) ?? 3,
    maxParallelism: (maxParallelism as number | undefined) ?? 4,
    dag: { name: (name as string | undefined) ?? 'dag', nodes: specNodes },
  };
}

function plainNode(node: unknown): DagNode | undefined {
  const keys = ['id', 'kind', 'deps', 'params', 'critical', 'priority', 'estimatedCostUsd', 'degrade', 'timeoutSec'];
  if (!isPlainObject(node) || !onlyKeys(node, keys)) return;
  const { id, kind, deps, params, critical, priority, estimatedCostUsd, degrade, timeoutSec } = node;
  if (!isValidId(id) || typeof kind !== 'string' || !NODE_KIND.test(kind)) return;
  if (!optional(deps, (d) => Array.isArray(d) && d.length <= DAG_LIMITS.maxDepsPerNode && d.every(isValidId))) return;
  if (!optional(params, isPlainObject) || !optional(critical, (c) => typeof c === 'boolean')) return;
  if (!optional(priority, (p) => intIn(p, 1, 5)) || !optional(timeoutSec, (t) => intIn(t, 1, 86_400))) return;
  if (!optional(estimatedCostUsd, (c) => typeof c === 'number' && Number.isFinite(c) && c >= 0)) return;
  let plainDegrade: DagNode['degrade'];
  if (degrade !== undefined) {
    if (!isPlainObject(degrade) || !onlyKeys(degrade, ['params', 'model'])) return;
    const { params: degradeParams, model } = degrade;
    if (!optional(degradeParams, isPlainObject)) return;
    if (!optional(model, (m) => typeof m === 'string' && m.length >= 1 && m.length <= 100)) return;
    plainDegrade = {
      ...(degradeParams !== undefined ? { params: { ...(degradeParams as Record<string, unknown>) } } : {}),
      ...(model !== undefined ? { model: model as string } : {}),
    };
  }
  return {
    id,
    kind,
    deps: (deps as string[] | undefined) ?? [],
    params: { ...(params as Record<string, unknown> | undefined) },
    critical: (critical as boolean | undefined) ?? true,
    ...(priority !== undefined ? { priority: priority as number } : {}),
    ...(estimatedCostUsd !== undefined ? { estimatedCostUsd: estimatedCostUsd as number } : {}),
    ...(plainDegrade ? { degrade: plainDegrade } : {}),
    ...(timeoutSec !== undefined ? { timeoutSec: timeoutSec as number } : {}),
  };
}
