/** The zod schemas of a run's input. */
import { z } from 'zod';
import { DAG_LIMITS, NODE_KIND, TAG_KEY } from './dag-limits';
import { ID_PATTERN } from '../ids';

/**
 * The zod schemas of a run's input (the contract's shape; docs/CONTRACT.md). Kept apart from
 * dag.ts so that a workflow execution builds them only when it validates with them: the SDK gives
 * each execution its own module cache, and building these objects again for every run cost more
 * CPU than the validation itself. Starters, the API and the one validation import them from here.
 */
/** A tenant, run or node id (ids.ts has the rule; zod stays out of the modules every run loads). */
export const idSchema = z
  .string()
  .regex(ID_PATTERN, { message: 'must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, _ and -)' });

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
    kind: z.string().regex(NODE_KIND, { message: 'must be a node kind such as llm.generate' }),
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
