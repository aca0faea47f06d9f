/**
 * One hot tenant: N concurrent small runs against one tenantBudget entity on the dev server.
 * Reports whether all completed, the entity's largest history, continue-as-new count, entity
 * messages per run, and any Temporal limit warning.
 * Usage: node --import tsx bench/hot-tenant.ts [runs] [suggest-continue-as-new-at-events]
 */
import { Runtime } from '@temporalio/worker';
import { configureTenant, runOutcome, startRun, tenantStatus } from '../api/client';
import { tenantBudgetWorkflowId } from '../workflows/domain/ids';
import { runBench, withBenchEnv, writeReport } from './harness';
import { toMicros, usd } from '../workflows/domain/pricing/catalog';

const RUNS = Number(process.argv[2] ?? 500);
/** Optional: make the server suggest continue-as-new sooner, to exercise it under this load. */
const SUGGEST_CAN_AT = process.argv[3] ? Number(process.argv[3]) : undefined;
const LIMIT_WORDS = /limit|exceed|too many|resource ?exhausted|throttl/i;

async function main(): Promise<void> {
  const warnings: string[] = [];
  const capture = (message: string, meta?: unknown) => {
    const line = `${message} ${meta ? JSON.stringify(meta) : ''}`;
    if (LIMIT_WORDS.test(line)) warnings.push(line.slice(0, 300));
  };
  const noop = () => undefined;
  Runtime.install({ logger: { log: noop, trace: noop, debug: noop, info: noop, warn: capture, error: capture } });
  const options = {
    workers: { nodeConcurrency: 50, workflowConcurrency: 100 },
    ...(SUGGEST_CAN_AT ? { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_CAN_AT } } : {}),
  };
  await withBenchEnv(options, async (client) => {
    await configureTenant(client, 'hot', { budgetUsd: 1000, maxConcurrentRuns: RUNS, backpressureThreshold: 1 });
    const started = Date.now();
    const handles = [];
    for (let i = 0; i < RUNS; i += 50) {
      handles.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, RUNS - i) }, (_, j) =>
            startRun(client, {
              tenantId: 'hot',
              runId: `hot-${i + j}`,
              dag: {
                nodes: [
                  { id: 'a', kind: 'util.sleep', params: { ms: 20, costUsd: 0.001 }, estimatedCostUsd: 0.001 },
                  {
                    id: 'b',
                    kind: 'util.sleep',
                    deps: ['a'],
                    params: { ms: 20, costUsd: 0.002 },
                    estimatedCostUsd: 0.002,
                  },
                ],
              },
            }),
          ),
        )),
      );
    }
    const results = await Promise.all(handles.map(runOutcome));
    const elapsedMs = Date.now() - started;
    let status = await tenantStatus(client, 'hot');
    for (let i = 0; i < 100 && status.runsInFlight.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await tenantStatus(client, 'hot');
    }

    // Walk the entity's chain of runs: history sizes and the messages it handled.
    const chain: Array<{
      runId: string;
      events: number;
      signalsIn: number;
      signalsOut: number;
      workflowTasksFailed: number;
      firstSuggestedAtEvent?: number;
    }> = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${tenantBudgetWorkflowId('hot')}'` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const events = history.events ?? [];
      chain.push({
        runId: wf.runId,
        events: events.length,
        signalsIn: events.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
        signalsOut: events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes).length,
        // A continue-as-new that races new signals fails its workflow task and is tried again.
        workflowTasksFailed: events.filter((e) => e.workflowTaskFailedEventAttributes).length,
        firstSuggestedAtEvent:
          Number(events.find((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew)?.eventId ?? 0) ||
          undefined,
      });
    }
    const byStatus: Record<string, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    const signalsIn = chain.reduce((s, c) => s + c.signalsIn, 0);
    const signalsOut = chain.reduce((s, c) => s + c.signalsOut, 0);
    const report = {
      runs: RUNS,
      suggestContinueAsNewAt: SUGGEST_CAN_AT ?? 'server default',
      byStatus,
      elapsedMs,
      runsPerSecond: Math.round((RUNS / elapsedMs) * 1000 * 10) / 10,
      spentUsd: status.spentUsd,
      expectedUsd: usd(results.reduce((s, r) => s + toMicros(r.costUsd), 0)),
      entityRuns: chain.length,
      continueAsNew: chain.length - 1,
      largestEntityHistory: Math.max(...chain.map((c) => c.events)),
      entityChain: chain.map(({ events, workflowTasksFailed, firstSuggestedAtEvent }) => ({
        events,
        workflowTasksFailed,
        firstSuggestedAtEvent,
      })),
      entityMessagesPerRun: Math.round(((signalsIn + signalsOut) / RUNS) * 100) / 100,
      entitySignalsInPerRun: Math.round((signalsIn / RUNS) * 100) / 100,
      limitWarnings: warnings,
      machine: `${process.platform} ${process.arch}, node ${process.version}`,
      at: new Date().toISOString(),
    };
    writeReport(`hot-tenant-${RUNS}${SUGGEST_CAN_AT ? `-can${SUGGEST_CAN_AT}` : ''}`, report);
  });
}

runBench(main);
