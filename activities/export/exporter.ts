/** The exporter: a closed run's history mirrored into its artifact files, and a tenant's files refreshed. */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { decodeHistoryJson } from '../../infra/payload-codec';
import { assertId, isValidId, parseDeliveryRunWorkflowId } from '../../workflows/domain/ids';
import { tenantStatusQuery } from '../../workflows/messages/tenant-budget';
import { tenantBudgetWorkflowId, deliveryRunWorkflowId } from '../../workflows/domain/ids';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { artifactsRoot, json, runArtifactsDir, tenantArtifactsDir, writeFileAtomic } from './atomic';
import { runArtifacts, type JsonHistory } from './run-artifacts';
import { toMicros, usd } from '../../workflows/domain/pricing/catalog';

/** Written last, after every other file of the run: its presence means the export is complete. */
export const EXPORTED_MARKER = '.exported';

export interface RunExport {
  tenantId: string;
  runId: string;
  exported: boolean;
  reason?: string;
  files?: string[];
}

export function isExported(tenantId: string, runId: string, root = artifactsRoot()): boolean {
  return existsSync(join(runArtifactsDir(tenantId, runId, root), EXPORTED_MARKER));
}

/**
 * Mirrors one finished run's history into its artifact files. Every file is written atomically
 * and the marker last, so an export interrupted at any point is simply done again, whole.
 */
export async function exportRun(
  client: Client,
  tenantId: string,
  runId: string,
  { force = false, root = artifactsRoot() } = {},
): Promise<RunExport> {
  const dir = runArtifactsDir(tenantId, runId, root);
  if (!force && existsSync(join(dir, EXPORTED_MARKER)))
    return { tenantId, runId, exported: false, reason: 'already exported' };
  const handle = client.workflow.getHandle(deliveryRunWorkflowId(tenantId, runId));
  const description = await handle.describe();
  if (description.status.name === 'RUNNING') return { tenantId, runId, exported: false, reason: 'still running' };
  // Temporary files of an export that died half-way are cleared before writing again.
  if (existsSync(dir))
    for (const name of readdirSync(dir)) if (name.includes('.tmp-')) rmSync(join(dir, name), { force: true });
  const historyText = historyToJSON(await handle.fetchHistory());
  // history.json keeps the history as stored (encrypted, with the codec on); the other files are decoded.
  const files = runArtifacts(await decodeHistoryJson(JSON.parse(historyText) as JsonHistory));
  files.set('history.json', historyText.endsWith('\n') ? historyText : `${historyText}\n`);
  for (const [name, content] of files) writeFileAtomic(join(dir, name), content);
  writeFileAtomic(
    join(dir, EXPORTED_MARKER),
    json({ workflowId: description.workflowId, runId: description.runId, files: [...files.keys()].sort() }),
  );
  return { tenantId, runId, exported: true, files: [...files.keys()].sort() };
}

function readSummaries(tenantId: string, root: string): Array<DeliveryRunResult & { closedAt?: string }> {
  const runsDir = join(root, 'runs', tenantId);
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .filter((runId) => isValidId(runId) && existsSync(join(runsDir, runId, EXPORTED_MARKER)))
    .sort()
    .map(
      (runId) =>
        JSON.parse(readFileSync(join(runsDir, runId, 'summary.json'), 'utf8')) as DeliveryRunResult & {
          closedAt?: string;
        },
    );
}

/**
 * The tenant's files: budget usage and state from the entity, one archive file per archived
 * period, and daily cost reports built from its exported runs.
 */
export async function exportTenant(
  client: Client,
  tenantId: string,
  { root = artifactsRoot() } = {},
): Promise<string[]> {
  const status = await client.workflow.getHandle(tenantBudgetWorkflowId(tenantId)).query(tenantStatusQuery);
  const dir = tenantArtifactsDir(tenantId, root);
  const written = new Map<string, string>();
  written.set(
    'budget_usage.json',
    json({
      tenantId,
      budgetUsd: status.budgetUsd,
      spentUsd: status.spentUsd,
      reservedUsd: status.reservedUsd,
      utilization: status.utilization,
      budgetStatus: status.budgetStatus,
      spendByCategory: status.spendByCategory,
      periodStart: status.periodStart,
      periodEnd: status.periodEnd,
      runsInFlight: status.runsInFlight.length,
      runsWaiting: status.runsWaiting.length,
    }),
  );
  written.set('tenant_state.json', json(status));
  const { history, ...profile } = status.learning;
  written.set('learning_profile.json', json({ tenantId, config: status.config.learning, ...profile }));
  const historyFile = join(dir, 'learning_history.jsonl');
  const newEvents = history.filter((e) => e.seq > lastLearningSeq(historyFile));
  if (newEvents.length > 0 || !existsSync(historyFile)) {
    // Appended by sequence number: the entity keeps only its newest events, the file keeps them all.
    const before = existsSync(historyFile) ? readFileSync(historyFile, 'utf8') : '';
    written.set(
      'learning_history.jsonl',
      before + newEvents.map((e) => `${JSON.stringify({ tenantId, ...e })}\n`).join(''),
    );
  }
  // Every alert and how its delivery went: the entity keeps only its newest, the file keeps them all.
  const alertsFile = join(dir, 'alerts.jsonl');
  if ((status.alerts ?? []).length > 0 || existsSync(alertsFile)) {
    const byId = new Map<string, unknown>();
    if (existsSync(alertsFile))
      for (const line of readFileSync(alertsFile, 'utf8').split('\n'))
        if (line.trim()) byId.set((JSON.parse(line) as { id: string }).id, JSON.parse(line));
    for (const alert of status.alerts ?? []) byId.set(alert.id, alert);
    written.set('alerts.jsonl', [...byId.values()].map((a) => `${JSON.stringify(a)}\n`).join(''));
  }
  for (const period of status.archivedPeriods)
    written.set(`budget_archive_${period.end.replace(/:/g, '-')}.json`, json({ tenantId, ...period }));

  const byDay = new Map<
    string,
    { totalMicros: number; byCategory: Record<string, number>; byRun: Record<string, number> }
  >();
  for (const summary of readSummaries(tenantId, root)) {
    if (!summary.closedAt || !summary.nodes) continue;
    const day = summary.closedAt.slice(0, 10);
    const report = byDay.get(day) ?? { totalMicros: 0, byCategory: {}, byRun: {} };
    for (const node of Object.values(summary.nodes)) {
      const micros = toMicros(node.costUsd);
      if (micros === 0) continue;
      report.totalMicros += micros;
      const category = node.category ?? 'compute';
      report.byCategory[category] = (report.byCategory[category] ?? 0) + micros;
    }
    report.byRun[summary.runId] = toMicros(summary.costUsd);
    byDay.set(day, report);
  }
  for (const [day, report] of byDay) {
    written.set(
      `cost_report_${day}.json`,
      json({
        tenantId,
        date: day,
        totalUsd: usd(report.totalMicros),
        byCategory: Object.fromEntries(Object.entries(report.byCategory).map(([k, v]) => [k, usd(v)])),
        byRun: Object.fromEntries(Object.entries(report.byRun).map(([k, v]) => [k, usd(v)])),
      }),
    );
  }
  for (const [name, content] of written) writeFileAtomic(join(dir, name), content);
  return [...written.keys()].sort();
}

/** The sequence number of the last event in a learning history file; 0 for none. */
function lastLearningSeq(path: string): number {
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const seq = (JSON.parse(lines[i]!) as { seq?: unknown }).seq;
      if (typeof seq === 'number') return seq;
    } catch {
      // A line that does not parse is skipped; the events after the last good one are written again.
    }
  }
  return 0;
}

/** One run (its tenant and id), one tenant's finished runs, or (neither) every finished run. */
export type ExportOptions = ({ tenantId?: string; runId?: undefined } | { tenantId: string; runId: string }) & {
  root?: string;
  force?: boolean;
  /** Only runs that closed at or after this time (ISO): the sweep's watermark. @default every closed run */
  closedSince?: string;
};

/** `ados export`: one run, one tenant's finished runs, or every finished run not yet exported. */
export async function exportFinished(
  client: Client,
  { tenantId, runId, root = artifactsRoot(), force = false, closedSince }: ExportOptions,
): Promise<{ runs: RunExport[]; tenants: Record<string, string[]>; tenantErrors: Record<string, string> }> {
  if (tenantId) assertId('tenant id', tenantId);
  const runs: RunExport[] = [];
  if (runId !== undefined && tenantId !== undefined) {
    runs.push(await exportRun(client, tenantId, runId, { force, root }));
  } else {
    const query = [
      `WorkflowType = 'deliveryRun'`,
      `ExecutionStatus != 'Running'`,
      ...(tenantId ? [`TenantId = '${tenantId}'`] : []),
      ...(closedSince ? [`CloseTime >= '${closedSince}'`] : []),
    ].join(' AND ');
    for await (const wf of client.workflow.list({ query })) {
      const ids = parseDeliveryRunWorkflowId(wf.workflowId);
      if (!ids) continue;
      if (!force && isExported(ids.tenantId, ids.runId, root)) continue;
      runs.push(await exportRun(client, ids.tenantId, ids.runId, { force, root }));
    }
  }
  const tenants: Record<string, string[]> = {};
  // A tenant whose files cannot be written is reported, and the others still exported.
  const tenantErrors: Record<string, string> = {};
  const touched = new Set(runs.filter((r) => r.exported).map((r) => r.tenantId));
  if (tenantId) touched.add(tenantId);
  for (const t of touched) {
    try {
      tenants[t] = await exportTenant(client, t, { root });
    } catch (err) {
      tenantErrors[t] = err instanceof Error ? err.message : String(err);
    }
  }
  return { runs, tenants, tenantErrors };
}
