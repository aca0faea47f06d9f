/** The HTTP API's response bodies, as zod schemas. */
import { z } from 'zod';
import { NODE_STATUSES, RUN_STATUSES } from '../../workflows/domain/run/run-result';
import { BUDGET_STATUSES } from '../../workflows/domain/tenant/budget-status';
import { COST_ACTIONS } from '../../workflows/domain/run/cost-agent';
import { BUDGET_PERIODS } from '../../workflows/domain/tenant/tenant-config';

/**
 * The bodies the API answers with, as zod schemas: they document every 2xx response in the OpenAPI
 * document and check each response as it is serialised. Objects are open (`looseObject`): fields
 * added later reach clients without a schema change breaking the API.
 */
export const ALL_RUN_STATUSES = RUN_STATUSES;
const usdField = (what: string) => z.number().describe(`${what}, in USD`);
const isoTime = (what: string) => z.string().describe(`${what} (ISO 8601)`);

export const errorBody = z
  .object({
    error: z.string(),
    message: z.string(),
    issues: z.array(z.string()).optional(),
    runId: z.string().optional().describe('a start the tenant refused: the run, recorded REJECTED with the reason'),
  })
  .describe('An error: a code, one line saying what is wrong, and field-level issues for invalid input');

const nodeResult = z.looseObject({
  status: z.enum(NODE_STATUSES),
  costUsd: usdField("the node's cost"),
  attempts: z.number().int(),
  model: z.string().optional(),
  degraded: z.boolean().optional(),
  error: z.string().optional(),
  category: z.string().optional(),
  startedAt: isoTime('when the node started').optional(),
  endedAt: isoTime('when the node ended').optional(),
  executionId: z
    .string()
    .optional()
    .describe('the id of the node execution whose result the run took; its charge is keyed by it'),
});

const costDecision = z
  .looseObject({
    nodeId: z.string(),
    at: isoTime('when the CostAgent decided'),
    action: z.enum(COST_ACTIONS),
    reason: z.string(),
    utilization: z.number(),
    concurrencyFactor: z.number(),
    projectedTotalUsd: usdField('projected tenant spend'),
    confidence: z.number(),
    nodeEstimateUsd: usdField("the node's expected cost"),
    leaseAvailableUsd: usdField("the run's budget lease left"),
    plan: z.looseObject({}).optional().describe('what a DEGRADE decision changed'),
  })
  .describe('one CostAgent decision, made before a node');

export const runResult = z
  .looseObject({
    runId: z.string(),
    tenantId: z.string(),
    status: z.enum(ALL_RUN_STATUSES),
    costUsd: usdField('what the run cost, the exact sum of its nodes'),
    nodes: z.record(z.string(), nodeResult).describe('each node by id'),
    decisions: z.array(costDecision),
    reason: z.string().optional().describe('why the run ended as it did (REJECTED, FAILED, TERMINATED, CANCELLED)'),
    queuePosition: z.number().int().optional().describe("place in the tenant's admission queue while WAITING"),
    budgetStatus: z.string().optional(),
    learning: z.looseObject({ explore: z.boolean() }).optional(),
  })
  .describe("a run's progress while it runs, its result once it ended (the same shape)");

const runRef = z.looseObject({ runId: z.string(), workflowId: z.string(), priority: z.number().int() });

export const tenantStatusBody = z
  .looseObject({
    tenantId: z.string(),
    config: z
      .looseObject({
        tenantId: z.string(),
        budgetUsd: usdField('budget per period'),
        period: z.enum(BUDGET_PERIODS),
        periodSeconds: z.number().int().optional(),
        maxConcurrentRuns: z.number().int(),
        backpressureThreshold: z.number(),
        thresholds: z.looseObject({ warning: z.number(), critical: z.number() }),
        dedicatedQueue: z.boolean(),
        learning: z.looseObject({}),
      })
      .describe("the tenant's configuration"),
    budgetUsd: usdField('budget this period'),
    spentUsd: usdField('spent this period'),
    utilization: z.number().describe('spent / budget'),
    budgetStatus: z.enum(BUDGET_STATUSES),
    movedTo: z
      .string()
      .optional()
      .describe('where the tenant moved (ados tenant move-in): it admits no new run in this deployment'),
    spendByCategory: z.record(z.string(), z.number()).describe('spend this period by cost category, in USD'),
    spendByModel: z
      .record(z.string(), z.number())
      .describe('spend this period by model (`(none)` for nodes without one), in USD: the report’s byModel, live'),
    spendByTag: z.record(z.string(), z.number()).describe('spend this period by run tag `key=value`, in USD'),
    spendSeries: z
      .array(z.object({ at: z.string(), spentUsd: z.number() }))
      .describe('cumulative spend this period over time, oldest first (at most 120 points)'),
    runsInFlight: z.array(runRef.extend({ admittedAt: isoTime('admitted') })),
    admissionBlocks: z
      .array(
        z.object({
          blockId: z.string(),
          starter: z.string(),
          slots: z.number().int(),
          reservedUsd: z.number(),
          expiresAt: z.string(),
        }),
      )
      .describe('admission blocks leased to starters (docs/GOVERNANCE.md): slots and money each holds')
      .optional(),
    runsWaiting: z.array(runRef.extend({ requestedAt: isoTime('asked for admission') })),
    chargedEvents: z.number().int().describe('cost events charged this period'),
    reservedUsd: usdField('authorised to runs in flight and not yet spent'),
    periodStart: isoTime('start of the period'),
    periodEnd: isoTime('end of the period').optional(),
    archivedPeriods: z.array(
      z.looseObject({ start: z.string(), end: z.string(), spentUsd: z.number(), spendByCategory: z.looseObject({}) }),
    ),
    learning: z
      .looseObject({
        configuredIntensity: z.string(),
        intensity: z.string(),
        metaLearningOptIn: z.boolean(),
        metaLearningScope: z.enum(['placement', 'all-regions']),
        learningBudgetUsd: z.number(),
        learningSpentUsd: z.number(),
      })
      .describe('the learning profile (docs/LEARNING.md)'),
    tokens: z
      .array(z.looseObject({ id: z.string(), createdAt: z.string(), revokedAt: z.string().optional() }))
      .describe('API tokens, without their hashes'),
  })
  .describe("a tenant's budget, spend, runs and learning");

export const runListBody = z.object({
  runs: z.array(
    z.object({
      runId: z.string(),
      workflowId: z.string(),
      status: z.enum(ALL_RUN_STATUSES).nullable().describe('DeliveryStatus search attribute'),
      priority: z.number().int().nullable(),
      costUsd: z.number().nullable(),
      temporalStatus: z.string().describe("Temporal's execution status"),
      startedAt: isoTime('started'),
      closedAt: isoTime('closed').nullable(),
    }),
  ),
  nextPageToken: z.string().optional().describe('pass as pageToken for the next page, with the same filters'),
});

export const startedRunBody = z.object({
  runId: z.string(),
  workflowId: z.string(),
  status: z
    .enum(['RUNNING', 'ADMITTING'])
    .describe(
      'RUNNING: admitted, its nodes start now; ADMITTING: it waits for room in its tenant, or for its worker to check a node kind',
    ),
});

export const cancelledRunBody = z.object({ runId: z.string(), cancelRequested: z.literal(true) });

export const issuedTokenBody = z.object({ token: z.string(), tokenId: z.string(), createdAt: z.string() });

export const revokedTokenBody = z.object({ revoked: z.literal(true) });

/**
 * The open schemas' TypeScript types carry an index signature that ADOS's interfaces lack; a handler
 * hands its value over as the documented body (the serializer still checks it against the schema).
 */
export const asBody = <S extends z.ZodType>(_schema: S, value: unknown) => value as z.output<S>;
