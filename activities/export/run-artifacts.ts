/** A run's artifact files (summary, task results, trace) computed from its recorded history alone. */
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import type { NodeOutcome } from '../../workflows/domain/run/run-state';
import type { NodeTask } from '../../workflows/ports/activities';
import { json } from './atomic';

/** Temporal's JSON history, as `temporal workflow show --output json` and the exporter write it. */
export interface JsonHistory {
  events: JsonEvent[];
}

type JsonEvent = Record<string, unknown> & { eventId: string; eventTime: string; eventType: string };
interface JsonPayload {
  metadata?: { encoding?: string };
  data?: string;
}

/** A JSON payload's value, or undefined for other encodings. */
export function decodePayload(payload: JsonPayload | undefined): unknown {
  if (!payload?.data) return undefined;
  const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding, 'base64').toString() : '';
  if (encoding !== 'json/plain') return undefined;
  return JSON.parse(Buffer.from(payload.data, 'base64').toString());
}

/** Temporal's protobuf JSON has deep optional fields; they are read defensively, so loosely typed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventAttributes = Record<string, any>;

function attrs(event: JsonEvent, name: string): EventAttributes | undefined {
  return event[name] as EventAttributes | undefined;
}

const firstPayload = (payloads: { payloads?: JsonPayload[] } | undefined) => decodePayload(payloads?.payloads?.[0]);
const ms = (event: JsonEvent | undefined) => (event ? Date.parse(event.eventTime) : undefined);
const shortType = (eventType: string) => eventType.replace(/^EVENT_TYPE_/, '');

/**
 * The run's result as its history records it: the returned result, the result carried by a
 * CriticalNodeFailed failure, or the result a cancelled run saved in its memo.
 */
export function resultFromHistory(
  history: JsonHistory,
): DeliveryRunResult | { status: 'INVALID'; reason: string } | undefined {
  const last = history.events.at(-1)!;
  const completed = attrs(last, 'workflowExecutionCompletedEventAttributes');
  if (completed) return firstPayload(completed.result) as DeliveryRunResult;
  const failed = attrs(last, 'workflowExecutionFailedEventAttributes');
  if (failed) {
    const details = firstPayload(failed.failure?.applicationFailureInfo?.details) as
      DeliveryRunResult | { problems?: string[] } | undefined;
    if (details && 'status' in details) return details;
    return { status: 'INVALID', reason: String(failed.failure?.message ?? 'workflow failed') };
  }
  for (const event of [...history.events].reverse()) {
    const memo = attrs(event, 'workflowPropertiesModifiedEventAttributes')?.upsertedMemo?.fields?.result;
    if (memo) return decodePayload(memo) as DeliveryRunResult;
  }
  return undefined;
}

interface NodeActivity {
  nodeId: string;
  kind: string;
  taskQueue?: string;
  scheduled: JsonEvent;
  started?: JsonEvent;
  closed?: JsonEvent;
  outcome?: NodeOutcome;
  failure?: string;
  attempt?: number;
}

/** Each node activity's events, matched through scheduledEventId. */
export function nodeActivities(history: JsonHistory): NodeActivity[] {
  const byScheduled = new Map<string, NodeActivity>();
  for (const event of history.events) {
    const scheduled = attrs(event, 'activityTaskScheduledEventAttributes');
    if (scheduled) {
      const task = firstPayload(scheduled.input) as NodeTask | undefined;
      if (task?.nodeId)
        byScheduled.set(event.eventId, {
          nodeId: task.nodeId,
          kind: scheduled.activityType?.name,
          taskQueue: scheduled.taskQueue?.name,
          scheduled: event,
        });
      continue;
    }
    const started = attrs(event, 'activityTaskStartedEventAttributes');
    if (started) {
      const node = byScheduled.get(String(started.scheduledEventId));
      if (node) Object.assign(node, { started: event, attempt: started.attempt });
      continue;
    }
    for (const [name, kind] of [
      ['activityTaskCompletedEventAttributes', 'completed'],
      ['activityTaskFailedEventAttributes', 'failed'],
      ['activityTaskTimedOutEventAttributes', 'timedOut'],
      ['activityTaskCanceledEventAttributes', 'cancelled'],
    ] as const) {
      const closed = attrs(event, name);
      if (!closed) continue;
      const node = byScheduled.get(String(closed.scheduledEventId));
      if (!node) continue;
      node.closed = event;
      if (kind === 'completed') node.outcome = firstPayload(closed.result) as NodeOutcome;
      else node.failure = String(closed.failure?.message ?? kind);
    }
  }
  return [...byScheduled.values()];
}

/** One flat object per history event: nested attribute fields as dotted keys, payloads decoded. */
export function traceLines(history: JsonHistory): string {
  return history.events
    .map((event) => {
      const line: Record<string, unknown> = {
        eventId: Number(event.eventId),
        eventTime: event.eventTime,
        eventType: shortType(event.eventType),
      };
      const flatten = (value: unknown, prefix: string) => {
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          const payload = value as JsonPayload;
          if (typeof payload.data === 'string' && payload.metadata) {
            const decoded = decodePayload(payload);
            const text = JSON.stringify(decoded ?? '<binary>');
            line[prefix] = text.length > 500 ? `${text.slice(0, 500)}…` : decoded;
            return;
          }
          for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k);
        } else if (Array.isArray(value)) {
          value.forEach((v, i) => flatten(v, `${prefix}.${i}`));
        } else if (prefix) {
          line[prefix] = value;
        }
      };
      for (const [key, value] of Object.entries(event)) {
        if (['eventId', 'eventTime', 'eventType', 'taskId'].includes(key)) continue;
        flatten(value, key.replace(/EventAttributes$/, ''));
      }
      return JSON.stringify(line);
    })
    .join('\n')
    .concat('\n');
}

function peakParallelism(nodes: NodeActivity[]): number {
  const edges = nodes.flatMap((n) => [
    [ms(n.scheduled)!, 1],
    [ms(n.closed) ?? Number.POSITIVE_INFINITY, -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let current = 0;
  let peak = 0;
  for (const [, delta] of edges) peak = Math.max(peak, (current += delta!));
  return peak;
}

/**
 * Every run artifact of docs/ARTIFACTS.md except history.json, as file name → content. Pure: the same
 * history always gives the same files, which is what makes re-exporting idempotent.
 */
export function runArtifacts(history: JsonHistory): Map<string, string> {
  const files = new Map<string, string>();
  const result = resultFromHistory(history);
  const nodes = nodeActivities(history);
  const start = history.events[0]!;
  const started = firstPayload(attrs(start, 'workflowExecutionStartedEventAttributes')?.input) as
    { tenantId?: string; runId?: string } | undefined;
  const admitted = history.events.find((e) => {
    const signal = attrs(e, 'workflowExecutionSignaledEventAttributes');
    return (
      signal?.signalName === 'admissionDecision' &&
      (firstPayload(signal.input) as { kind?: string } | undefined)?.kind === 'ADMITTED'
    );
  });
  // A run started by an ADOS client was admitted before it started; its launch says how long that took.
  const launch = decodePayload(attrs(start, 'workflowExecutionStartedEventAttributes')?.input?.payloads?.[1]) as
    { ticket?: { kind?: string }; admissionWaitMs?: number } | undefined;
  const end = history.events.at(-1)!;

  files.set(
    'summary.json',
    json({
      ...(result ?? { status: 'UNKNOWN' }),
      workflowStatus: shortType(end.eventType).replace(/^WORKFLOW_EXECUTION_/, ''),
      startedAt: start.eventTime,
      closedAt: end.eventTime,
    }),
  );
  const decisions = result && 'decisions' in result ? result.decisions : [];
  files.set(
    'cost_decision.json',
    json({
      runId: started?.runId ?? (result && 'runId' in result ? result.runId : undefined),
      tenantId: started?.tenantId,
      decisions,
    }),
  );

  const results = result && 'nodes' in result ? result.nodes : {};
  for (const [nodeId, nodeResult] of Object.entries(results)) {
    const activity = [...nodes].reverse().find((n) => n.nodeId === nodeId);
    files.set(
      `task_result_${nodeId}.json`,
      json({
        nodeId,
        kind: activity?.kind,
        status: nodeResult.status,
        attempts: nodeResult.attempts,
        costUsd: nodeResult.costUsd,
        category: nodeResult.category,
        model: nodeResult.model,
        degraded: nodeResult.degraded ?? false,
        error: nodeResult.error,
        output: activity?.outcome?.output,
        usage: usageOf(activity?.outcome?.output),
        // What priced an LLM charge: provider, priced model, token usage, price source and version.
        ...(activity?.outcome && 'pricing' in activity.outcome ? { pricing: activity.outcome.pricing } : {}),
        timings: activity
          ? {
              scheduledAt: activity.scheduled.eventTime,
              startedAt: activity.started?.eventTime,
              closedAt: activity.closed?.eventTime,
              queueMs: activity.started ? ms(activity.started)! - ms(activity.scheduled)! : undefined,
              runMs: activity.started && activity.closed ? ms(activity.closed)! - ms(activity.started)! : undefined,
            }
          : undefined,
      }),
    );
  }
  files.set(
    'concurrency_report.json',
    json({
      peakParallelism: peakParallelism(nodes),
      admissionWaitMs: admitted
        ? ms(admitted)! - ms(start)!
        : launch?.ticket?.kind === 'ADMITTED'
          ? (launch.admissionWaitMs ?? 0)
          : undefined,
      runMs: ms(end)! - ms(start)!,
      nodes: nodes.map((n) => ({
        nodeId: n.nodeId,
        kind: n.kind,
        taskQueue: n.taskQueue,
        attempt: n.attempt,
        queueMs: n.started ? ms(n.started)! - ms(n.scheduled)! : undefined,
        runMs: n.started && n.closed ? ms(n.closed)! - ms(n.started)! : undefined,
        outcome: n.outcome ? 'completed' : (n.failure ?? 'open'),
      })),
    }),
  );
  files.set('trace.jsonl', traceLines(history));
  return files;
}

/** Token counts where a node reports them (LLM calls). */
function usageOf(output: unknown): Record<string, number> | undefined {
  const o = output as { inputTokens?: unknown; outputTokens?: unknown } | undefined;
  return typeof o?.inputTokens === 'number' && typeof o.outputTokens === 'number'
    ? { inputTokens: o.inputTokens, outputTokens: o.outputTokens }
    : undefined;
}
