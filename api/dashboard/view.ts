/** What the dashboard shows: tenants' budgets, runs and learning, with links into the Web UI. */
import type { Client } from '@temporalio/client';
import { burnWindowMs, projectedExhaustion } from '../../workflows/domain/alerts/budget-alerts';
import { toMicros, usd } from '../../workflows/domain/pricing/catalog';
import { parseDeliveryRunWorkflowId, tenantBudgetWorkflowId } from '../../workflows/domain/ids';
import { SharedAnswers } from './shared-answers';
import type { TenantStatus } from '../../workflows/domain/tenant/tenant-status';
import { runProgress, tenantStatus } from '../client';
import { tenantClient, tenantsIn } from '../client/directory';
import { loadConfig } from '../../infra/config';

/**
 * What the dashboard shows of one tenant (docs/DASHBOARD.md): its status query's figures as they
 * are, plus what is derived from them here (burn rate, committed money and projected exhaustion,
 * by the alerts' own rule; runs by priority) and its recent CostAgent decisions from visibility.
 */
export interface TenantDashboard {
  tenantId: string;
  at: string;
  budgetUsd: number;
  spentUsd: number;
  utilization: number;
  budgetStatus: TenantStatus['budgetStatus'];
  period: string;
  periodStart: string;
  periodEnd?: string;
  reservedUsd: number;
  /** What the runs in flight are predicted to spend still (each run's projection, at least its unspent lease). */
  committedUsd: number;
  /** Spend over the last burn window (a 24th of the period, or the period so far if shorter), per hour; 0 without a period. */
  burnRateUsdPerHour: number;
  projectedExhaustionAt?: string;
  spendByCategory: TenantStatus['spendByCategory'];
  spendByModel: Record<string, number>;
  spendByTag: Record<string, number>;
  spendSeries: TenantStatus['spendSeries'];
  maxConcurrentRuns: number;
  runsInFlight: Array<{ runId: string; priority: number; admittedAt: string }>;
  runsWaiting: Array<{ runId: string; priority: number; requestedAt: string }>;
  /** Runs by priority: [priority, in flight, waiting], highest first. */
  byPriority: Array<[number, number, number]>;
  alerts: Array<{ id: string; type: string; status: string; at: string; attempts?: number; lastError?: string }>;
  learning: {
    intensity: string;
    budgetShare: number;
    learningBudgetUsd: number;
    learningSpentUsd: number;
    exploredModels: string[];
    preferences: Array<{ kind: string; fromModel: string; toModel: string }>;
    epsilonSpent?: number;
    epsilonLeft?: number;
  };
  decisions: Array<{ runId: string; status: string; reason: string; at: string; webUiUrl: string }>;
  /**
   * Predicted against actual for the latest finished runs: each run's projection at its start (the
   * CostAgent's, from the same estimates as its quote) and what it cost; `medianErrorPct` over them.
   */
  predictions: {
    runs: Array<{ runId: string; projectedUsd: number; actualUsd: number; errorPct: number }>;
    medianErrorPct?: number;
  };
  /** The tenant's runs in the Temporal Web UI. */
  webUiUrl: string;
}

/** The tenant's burn rate and projected exhaustion, as budget alerts judge them, from its spend series. */
function burnOf(status: TenantStatus, committedMicros: number, now: string) {
  if (!status.periodEnd) return { burnRateUsdPerHour: 0 };
  const window = burnWindowMs(status.periodStart, status.periodEnd);
  const series = status.spendSeries.map((p) => ({ at: p.at, spentMicros: toMicros(p.spentUsd) }));
  // The spend of the last window (a 24th of the period, or the period so far if shorter), per hour.
  const windowStart = Math.max(Date.parse(now) - window, Date.parse(status.periodStart));
  const before = series.filter((p) => Date.parse(p.at) <= windowStart).pop();
  const spent = toMicros(status.spentUsd);
  const elapsed = Date.parse(now) - windowStart;
  const rate = elapsed > 0 ? (spent - (before?.spentMicros ?? 0)) / elapsed : 0;
  const at = projectedExhaustion(
    {
      tenantId: status.tenantId,
      budgetMicros: toMicros(status.budgetUsd),
      spentMicros: spent,
      periodStart: status.periodStart,
      periodEnd: status.periodEnd,
      now,
      committedMicros,
    },
    series,
  );
  return { burnRateUsdPerHour: usd(Math.round(rate * 3_600_000)), ...(at ? { projectedExhaustionAt: at } : {}) };
}

export function webUiRunsUrl(webUiUrl: string, namespace: string, tenantId: string): string {
  const query = encodeURIComponent(`TenantId="${tenantId}"`);
  return `${webUiUrl.replace(/\/+$/, '')}/namespaces/${namespace}/workflows?query=${query}`;
}

export function webUiRunUrl(webUiUrl: string, namespace: string, workflowId: string): string {
  return `${webUiUrl.replace(/\/+$/, '')}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The tenant's latest runs matching `where` (newest first, from visibility), each with its result where it can be read. */
async function latestRuns(client: Client, tenantId: string, where: string, limit: number) {
  const page = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: `WorkflowType = 'deliveryRun' AND TenantId = '${tenantId}' AND ${where}`,
    pageSize: limit,
  });
  return Promise.all(
    (page.executions ?? []).map(async (raw) => {
      const workflowId = raw.execution?.workflowId ?? '';
      const runId = parseDeliveryRunWorkflowId(workflowId)?.runId ?? workflowId;
      const result = await runProgress(client, tenantId, runId).catch(() => undefined);
      const seconds = Number(raw.closeTime?.seconds ?? raw.startTime?.seconds ?? 0);
      return { workflowId, runId, result, at: new Date(seconds * 1000).toISOString() };
    }),
  );
}

/** The tenant's most recent DEGRADED, TERMINATED and REJECTED runs, with their reasons. */
async function recentDecisions(client: Client, tenantId: string, webUiUrl: string) {
  const runs = await latestRuns(client, tenantId, `DeliveryStatus IN ('DEGRADED', 'TERMINATED', 'REJECTED')`, 10);
  return runs.map(({ workflowId, runId, result, at }) => ({
    runId,
    status: result?.status ?? 'UNKNOWN',
    reason: result?.reason ?? '',
    at,
    webUiUrl: webUiRunUrl(webUiUrl, client.options.namespace, workflowId),
  }));
}

/** The latest finished runs' start-of-run projections against their costs. */
async function recentPredictions(client: Client, tenantId: string) {
  const finished = await latestRuns(
    client,
    tenantId,
    `ExecutionStatus != 'Running' AND DeliveryStatus IN ('COMPLETED', 'DEGRADED')`,
    20,
  );
  const runs = finished.flatMap(({ runId, result }) => {
    const projected = result?.decisions[0]?.runProjectedUsd;
    if (!result || projected === undefined || !(result.costUsd > 0)) return [];
    const errorPct = Math.round((Math.abs(projected - result.costUsd) / result.costUsd) * 1000) / 10;
    return [{ runId, projectedUsd: projected, actualUsd: result.costUsd, errorPct }];
  });
  const errors = runs.map((r) => r.errorPct).sort((a, b) => a - b);
  return { runs, ...(errors.length > 0 ? { medianErrorPct: errors[Math.floor(errors.length / 2)]! } : {}) };
}

/** Decisions and predictions change only as runs end: looked up at most every 5 s per tenant (each costs a visibility list and a result per run). */
const finished = new SharedAnswers(5000);
function finishedRunsOf(client: Client, tenantId: string, webUiUrl: string) {
  return finished.get(tenantId, async () => {
    const [decisions, predictions] = await Promise.all([
      recentDecisions(client, tenantId, webUiUrl),
      recentPredictions(client, tenantId),
    ]);
    return { decisions, predictions };
  });
}

/** What the runs in flight are predicted to spend still: each run's projection, at least its unspent lease. */
function committedMicrosOf(status: TenantStatus): number {
  return status.runsInFlight.reduce(
    (sum, r) => sum + Math.max(0, r.grantedMicros - r.reportedMicros, r.estRemainingMicros),
    0,
  );
}

export async function tenantDashboard(client: Client, tenantId: string, webUiUrl: string): Promise<TenantDashboard> {
  const status = await tenantStatus(client, tenantId);
  const now = new Date().toISOString();
  const committedMicros = committedMicrosOf(status);
  const priorities = new Map<number, [number, number]>();
  for (const r of status.runsInFlight)
    (priorities.get(r.priority) ?? priorities.set(r.priority, [0, 0]).get(r.priority)!)[0]++;
  for (const r of status.runsWaiting)
    (priorities.get(r.priority) ?? priorities.set(r.priority, [0, 0]).get(r.priority)!)[1]++;
  const l = status.learning;
  return {
    tenantId,
    at: now,
    budgetUsd: status.budgetUsd,
    spentUsd: status.spentUsd,
    utilization: status.utilization,
    budgetStatus: status.budgetStatus,
    period: status.config.period,
    periodStart: status.periodStart,
    ...(status.periodEnd ? { periodEnd: status.periodEnd } : {}),
    reservedUsd: status.reservedUsd,
    committedUsd: usd(committedMicros),
    ...burnOf(status, committedMicros, now),
    spendByCategory: status.spendByCategory,
    spendByModel: status.spendByModel,
    spendByTag: status.spendByTag,
    spendSeries: status.spendSeries,
    maxConcurrentRuns: status.config.maxConcurrentRuns,
    runsInFlight: status.runsInFlight.map(({ runId, priority, admittedAt }) => ({ runId, priority, admittedAt })),
    runsWaiting: status.runsWaiting.map(({ runId, priority, requestedAt }) => ({ runId, priority, requestedAt })),
    byPriority: [...priorities.entries()].sort(([a], [b]) => b - a).map(([p, [f, w]]) => [p, f, w]),
    alerts: status.alerts
      .slice(-20)
      .reverse()
      .map((a) => ({
        id: a.id,
        type: a.body.type,
        status: a.status,
        at: a.body.at,
        ...(a.attempts !== undefined ? { attempts: a.attempts } : {}),
        ...(a.lastError ? { lastError: a.lastError } : {}),
      })),
    learning: {
      intensity: l.intensity,
      budgetShare: l.budgetShare,
      learningBudgetUsd: l.learningBudgetUsd,
      learningSpentUsd: l.learningSpentUsd,
      exploredModels: [...new Set(l.evidence.map((e) => e.toModel))],
      preferences: l.preferences.map(({ kind, fromModel, toModel }) => ({ kind, fromModel, toModel })),
      ...(status.privacy ? { epsilonSpent: status.privacy.epsilonSpent, epsilonLeft: status.privacy.epsilonLeft } : {}),
    },
    ...(await finishedRunsOf(client, tenantId, webUiUrl)),
    webUiUrl: webUiRunsUrl(webUiUrl, client.options.namespace, tenantId),
  };
}

/** Every tenant at a glance (the admin's view: from visibility, then each one's status), or `only` that one. */
export async function tenantsOverview(client: Client, only?: string) {
  const ids: string[] = only ? [only] : [];
  // In a deployment of regions: every tenant whose data this region holds, whichever namespace it is in.
  const region = loadConfig().ADOS_REGION;
  if (!only && region) ids.push(...(await tenantsIn(client, region)));
  else if (!only)
    for await (const wf of client.workflow.list({
      query: `WorkflowType = 'tenantBudget' AND ExecutionStatus = 'Running'`,
    }))
      ids.push(wf.workflowId.slice(tenantBudgetWorkflowId('').length));
  const now = new Date().toISOString();
  const rows = await Promise.all(
    [...new Set(ids)].sort().map(async (tenantId) => {
      const s = await (only ? Promise.resolve(client) : tenantClient(client, tenantId))
        .then((c) => tenantStatus(c, tenantId))
        .catch(() => undefined);
      if (!s) return undefined;
      return {
        tenantId,
        budgetUsd: s.budgetUsd,
        spentUsd: s.spentUsd,
        utilization: s.utilization,
        budgetStatus: s.budgetStatus,
        runsInFlight: s.runsInFlight.length,
        runsWaiting: s.runsWaiting.length,
        ...burnOf(s, committedMicrosOf(s), now),
      };
    }),
  );
  return { at: now, tenants: rows.filter((r) => r !== undefined) };
}
