import { z } from 'zod';
import { deliveryRunWorkflowId, idSchema, parseDeliveryRunWorkflowId } from './ids';

/** Limits that keep one run's history and fan-out within what one workflow handles well. */
export const DAG_LIMITS = {
  maxNodes: 500,
  maxDepsPerNode: 100,
  maxParallelism: 64,
  /** Serialized size of one node's params, in characters. */
  maxParamsChars: 16_000,
} as const;

export const prioritySchema = z.number().int().min(1).max(5);

export const retryPolicySchema = z
  .object({
    maximumAttempts: z.number().int().min(1).max(100).optional(),
    initialIntervalMs: z.number().int().min(1).max(3_600_000).optional(),
    backoffCoefficient: z.number().min(1).max(10).optional(),
    maximumIntervalMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();

export const degradeSchema = z
  .object({
    params: z.record(z.string(), z.unknown()).optional(),
    model: z.string().min(1).max(100).optional(),
  })
  .strict();

export const dagNodeSchema = z
  .object({
    id: idSchema,
    kind: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, { message: 'must be a node kind such as llm.generate' }),
    /** Ids of nodes of the same DAG this node waits for. @default none */
    deps: z.array(idSchema).max(DAG_LIMITS.maxDepsPerNode).default([]),
    params: z.record(z.string(), z.unknown()).default({}),
    /** A non-critical node may be skipped or fail without failing the run. @default true */
    critical: z.boolean().default(true),
    /** 1 (most urgent) … 5; @default the run's priority */
    priority: prioritySchema.optional(),
    estimatedCostUsd: z.number().min(0).optional(),
    degrade: degradeSchema.optional(),
    retry: retryPolicySchema.optional(),
    timeoutSec: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

export const dagSchema = z
  .object({
    name: z.string().min(1).max(200).default('dag'),
    nodes: z.array(dagNodeSchema).min(1).max(DAG_LIMITS.maxNodes),
  })
  .strict();

/** Labels for showback (`ados report` by tag): at most 10, short keys and values, recorded with every charge. */
export const TAG_KEY = /^[a-z][a-z0-9_.-]{0,31}$/;
export const tagsSchema = z
  .record(z.string(), z.string().min(1).max(64))
  .superRefine((tags, ctx) => {
    const keys = Object.keys(tags);
    if (keys.length > 10) ctx.addIssue({ code: 'custom', message: `at most 10 tags (${keys.length} given)` });
    for (const key of keys)
      if (!TAG_KEY.test(key))
        ctx.addIssue({ code: 'custom', path: [key], message: `tag keys must match ${TAG_KEY.source}` });
  })
  // What the refinement checks, stated for the OpenAPI document (3.0 has no propertyNames: the key rule is in words).
  .meta({ maxProperties: 10 })
  .describe(`showback labels: at most 10, keys matching ${TAG_KEY.source}, values of 1 to 64 characters`);

export const deliveryRunInputSchema = z
  .object({
    tenantId: idSchema,
    runId: idSchema.optional(),
    /** 1 (most urgent) … 5. @default 3 */
    priority: prioritySchema.default(3),
    /** Nodes of this run in flight at once. @default 4 */
    maxParallelism: z.number().int().min(1).max(DAG_LIMITS.maxParallelism).default(4),
    /** Showback labels, e.g. { team: "search", feature: "answers" }. */
    tags: tagsSchema.optional(),
    dag: dagSchema,
  })
  .strict();

export type DeliveryRunInput = z.input<typeof deliveryRunInputSchema>;
export type DeliveryRunSpec = z.output<typeof deliveryRunInputSchema>;
export type DagNode = z.output<typeof dagNodeSchema>;
export type Dag = z.output<typeof dagSchema>;

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
  const parsed = deliveryRunInputSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`),
    };
  }
  const spec = parsed.data;
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
