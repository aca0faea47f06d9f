/** Showback: a tenant's spend over a time range, as a report and as CSV. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toMicros, usd } from '../../workflows/domain/pricing/catalog';
import { artifactsRoot, runArtifactsDir, tenantArtifactsDir } from './atomic';
import { EXPORTED_MARKER } from './exporter';

/**
 * Showback: a tenant's spend over a time range, by run, node kind, model, category and tag, from
 * its exported artifacts. Every charge is a row: a run's node (charged when it ended) or a shadow
 * exploration of its learning (charged when it settled). Sums are in micro-dollars, so a report
 * that covers a whole budget period totals exactly the tenant's spend in it.
 */
export interface ShowbackRow {
  runId: string;
  nodeId: string;
  kind: string;
  model: string;
  category: string;
  tags: Record<string, string>;
  costUsd: number;
  at: string;
}

export interface ShowbackReport {
  tenantId: string;
  from: string;
  to: string;
  totalUsd: number;
  runs: number;
  byRun: Record<string, number>;
  byKind: Record<string, number>;
  byModel: Record<string, number>;
  byCategory: Record<string, number>;
  /** `key=value` → spend of the runs carrying that tag. */
  byTag: Record<string, number>;
  rows: ShowbackRow[];
}

interface RunSummary {
  runId: string;
  tags?: Record<string, string>;
  nodes: Record<string, { status: string; costUsd: number; model?: string; category?: string; endedAt?: string }>;
}

function readJson<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

/** The rows of one exported run: its nodes that cost something and ended within [from, to). */
function runRows(dir: string, summary: RunSummary, from: string, to: string): ShowbackRow[] {
  if (!summary.nodes) return [];
  return Object.entries(summary.nodes).flatMap(([nodeId, node]) => {
    if (!(node.costUsd > 0) || !node.endedAt || node.endedAt < from || node.endedAt >= to) return [];
    const task = readJson<{ kind?: string }>(join(dir, `task_result_${nodeId}.json`));
    return [
      {
        runId: summary.runId,
        nodeId,
        kind: task?.kind ?? 'unknown',
        model: node.model ?? '',
        category: node.category ?? 'compute',
        tags: summary.tags ?? {},
        costUsd: node.costUsd,
        at: node.endedAt,
      },
    ];
  });
}

/** Shadow explorations charged to the tenant's learning spend within [from, to). */
function learningRows(
  tenantId: string,
  root: string,
  from: string,
  to: string,
  tagsOf: (runId: string) => Record<string, string>,
): ShowbackRow[] {
  const file = join(tenantArtifactsDir(tenantId, root), 'learning_history.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(
      (line) =>
        JSON.parse(line) as {
          type: string;
          at: string;
          runId: string;
          nodeId: string;
          toModel: string;
          chargedUsd?: number;
        },
    )
    .filter((e) => e.type === 'exploration' && (e.chargedUsd ?? 0) > 0 && e.at >= from && e.at < to)
    .map((e) => ({
      runId: e.runId,
      nodeId: `${e.nodeId} (shadow)`,
      kind: 'shadow-exploration',
      model: e.toModel,
      category: 'learning',
      tags: tagsOf(e.runId),
      costUsd: e.chargedUsd!,
      at: e.at,
    }));
}

export function showbackReport(
  tenantId: string,
  { from, to, root = artifactsRoot() }: { from: string; to: string; root?: string },
): ShowbackReport {
  const runsDir = join(root, 'runs', tenantId);
  const runIds = existsSync(runsDir)
    ? readdirSync(runsDir).filter((r) => existsSync(join(runArtifactsDir(tenantId, r, root), EXPORTED_MARKER)))
    : [];
  const tags = new Map<string, Record<string, string>>();
  const rows: ShowbackRow[] = [];
  for (const runId of runIds.sort()) {
    const dir = runArtifactsDir(tenantId, runId, root);
    const summary = readJson<RunSummary>(join(dir, 'summary.json'));
    if (!summary) continue;
    tags.set(runId, summary.tags ?? {});
    rows.push(...runRows(dir, summary, from, to));
  }
  rows.push(...learningRows(tenantId, root, from, to, (runId) => tags.get(runId) ?? {}));
  rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  const sums = { byRun: {}, byKind: {}, byModel: {}, byCategory: {}, byTag: {} } as Record<
    string,
    Record<string, number>
  >;
  const add = (group: string, key: string, micros: number) => (sums[group]![key] = (sums[group]![key] ?? 0) + micros);
  let total = 0;
  for (const row of rows) {
    const micros = toMicros(row.costUsd);
    total += micros;
    add('byRun', row.runId, micros);
    add('byKind', row.kind, micros);
    add('byModel', row.model || '(none)', micros);
    add('byCategory', row.category, micros);
    for (const [key, value] of Object.entries(row.tags)) add('byTag', `${key}=${value}`, micros);
  }
  const inUsd = (group: Record<string, number>) =>
    Object.fromEntries(Object.entries(group).map(([key, micros]) => [key, usd(micros)]));
  return {
    tenantId,
    from,
    to,
    totalUsd: usd(total),
    runs: Object.keys(sums.byRun!).length,
    byRun: inUsd(sums.byRun!),
    byKind: inUsd(sums.byKind!),
    byModel: inUsd(sums.byModel!),
    byCategory: inUsd(sums.byCategory!),
    byTag: inUsd(sums.byTag!),
    rows,
  };
}

/** The report's rows as CSV: one line per charge, tags as `key=value;…`. */
export function showbackCsv(report: ShowbackReport): string {
  const cell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const lines = ['runId,nodeId,kind,model,category,tags,costUsd,at'];
  for (const r of report.rows) {
    const tags = Object.entries(r.tags)
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
    lines.push([r.runId, r.nodeId, r.kind, r.model, r.category, tags, r.costUsd.toFixed(6), r.at].map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}
