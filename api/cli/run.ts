/** `ados run start|status|result|cancel|quote|list`. */
import { Command, InvalidArgumentError } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { DeliveryRunResult } from '../../workflows/domain/run/run-result';
import { UserError, connectClient, quote, runHandle, runOutcome, runProgress, startRun } from '../client';
import { tenantClient } from '../client/directory';
import type { RunQuote } from '../../workflows/domain/prediction/quote';
import { createBars, nodesDone, poll } from './progress';
import { readRunFile } from './run-file';
import { EXIT, json, print } from './output';
import { int } from './args';

function renderRun(r: DeliveryRunResult): string {
  const lines = [
    `run ${r.runId} of ${r.tenantId}: ${r.status} · $${r.costUsd.toFixed(6)}${r.reason ? ` · ${r.reason}` : ''}`,
  ];
  for (const [id, n] of Object.entries(r.nodes)) {
    lines.push(
      `  ${id.padEnd(24)} ${n.status.padEnd(10)} attempts ${n.attempts} · $${n.costUsd.toFixed(6)}${n.model ? ` · ${n.model}` : ''}${n.error ? ` · ${n.error}` : ''}`,
    );
  }
  for (const c of r.learning?.choices ?? [])
    lines.push(
      `  learned: ${c.nodeId} runs ${c.toModel} instead of ${c.fromModel} (quality ${c.evidence.qualityShadow} vs ${c.evidence.qualityFull} over ${c.evidence.samples} shadows)`,
    );
  if (r.learning?.shadow)
    lines.push(
      `  explored: ${r.learning.shadow.nodeId} in shadow with ${r.learning.shadow.toModel} (${r.learning.shadow.workflowId})`,
    );
  return lines.join('\n');
}

function renderQuote(q: RunQuote): string {
  const money = (n: number) => `$${n.toFixed(6)}`;
  return [
    `quote for ${q.tenantId}: p50 ${money(q.p50Usd)} · p95 ${money(q.p95Usd)} (p5 ${money(q.p5Usd)}) · basis ${q.basis} · confidence ${q.confidence}`,
    ...q.byNode.map(
      (n) =>
        `  ${n.nodeId.padEnd(24)} ${n.kind.padEnd(18)} p50 ${money(n.p50Usd)} · p95 ${money(n.p95Usd)} · ${n.basis}${n.samples ? ` (${n.samples} samples)` : ''}${n.model ? ` · ${n.model}` : ''}`,
    ),
    `  prices: ${q.prices.source} ${q.prices.version}`,
  ].join('\n');
}

/** `ados run start|quote|show|cancel`: delivery runs. */
/** The client of the namespace the tenant lives in (in a deployment of regions, from the directory). */
async function clientOf(tenantId: string) {
  return tenantClient(await connectClient(), tenantId);
}

export function runCommands(program: Command): void {
  const run = program.command('run').description('start, inspect and cancel delivery runs');

  run
    .command('start')
    .description('start a delivery run from a JSON or YAML file (a whole run input, or just its dag)')
    .requiredOption('--tenant <id>', 'tenant id')
    .requiredOption('--dag <file>', 'run or DAG file (.json, .yaml)')
    .option('--run-id <id>', 'run id (default: generated)')
    .option('--priority <1-5>', '1 most urgent … 5', int('priority', 1, 5))
    .option('--max-parallelism <n>', 'nodes in flight at once', int('max parallelism', 1, 64))
    .option('--wait', 'wait for the result, showing progress')
    .option(
      '--tag <key=value>',
      'a showback tag (repeatable, at most 10)',
      (raw: string, tags: Record<string, string> = {}) => {
        const at = raw.indexOf('=');
        if (at < 1) throw new InvalidArgumentError('a tag is key=value');
        return { ...tags, [raw.slice(0, at)]: raw.slice(at + 1) };
      },
    )
    .action(
      async (opts: {
        tenant: string;
        dag: string;
        runId?: string;
        priority?: number;
        maxParallelism?: number;
        wait?: boolean;
        tag?: Record<string, string>;
      }) => {
        const input = {
          ...readRunFile(opts.dag),
          tenantId: opts.tenant,
          ...(opts.runId ? { runId: opts.runId } : {}),
          ...(opts.priority ? { priority: opts.priority } : {}),
          ...(opts.maxParallelism ? { maxParallelism: opts.maxParallelism } : {}),
          ...(opts.tag ? { tags: opts.tag } : {}),
        };
        const client = await clientOf(opts.tenant);
        const handle = await startRun(client, input);
        const { runId, admission } = handle;
        if (!opts.wait) {
          print({ tenantId: opts.tenant, runId, workflowId: handle.workflowId, admission }, () =>
            admission.status === 'REJECTED'
              ? `run ${runId} rejected: ${admission.reason} (workflow ${handle.workflowId})`
              : `started run ${runId} (workflow ${handle.workflowId})${admission.status === 'PENDING' ? ', waiting for admission' : ''}`,
          );
          // The same answer as the API's 429: the run exists, but it will not run.
          if (admission.status === 'REJECTED') process.exitCode = EXIT.RUN_NOT_SUCCESSFUL;
          return;
        }
        const bars = createBars(!json() && process.stderr.isTTY);
        const nodeCount = (input as { dag?: { nodes?: unknown[] } }).dag?.nodes?.length ?? 0;
        const bar = bars?.create(nodeCount, 0, { label: runId, unit: 'nodes', cost: '0.000000', status: 'ADMITTING' });
        const poller = bar
          ? poll(async () => {
              const p = await runProgress(client, opts.tenant, runId);
              bar.update(nodesDone(p), {
                cost: p.costUsd.toFixed(6),
                status: `${p.status}${p.budgetStatus ? ` · budget ${p.budgetStatus}` : ''}`,
              });
            })
          : undefined;
        try {
          const result = await runOutcome(handle);
          bar?.update(nodesDone(result), {
            cost: result.costUsd.toFixed(6),
            status: `${result.status}${result.budgetStatus ? ` · budget ${result.budgetStatus}` : ''}`,
          });
          bars?.stop();
          print(result, () => renderRun(result));
          if (!['COMPLETED', 'DEGRADED'].includes(result.status)) process.exitCode = EXIT.RUN_NOT_SUCCESSFUL;
        } finally {
          await poller?.stop();
          bars?.stop();
        }
      },
    );

  run
    .command('quote')
    .description('what a run would cost (p50, p95, per node), without running anything')
    .requiredOption('--tenant <id>', 'tenant id')
    .requiredOption('--dag <file>', 'run or DAG file (.json, .yaml)')
    .action(async (opts: { tenant: string; dag: string }) => {
      const result = await quote(await clientOf(opts.tenant), { ...readRunFile(opts.dag), tenantId: opts.tenant });
      print(result, () => renderQuote(result));
    });

  run
    .command('show <tenantId> <runId>')
    .description("a run's progress, or its result once finished")
    .action(async (tenantId: string, runId: string) => {
      const result = await runProgress(await clientOf(tenantId), tenantId, runId);
      print(result, () => renderRun(result));
    });

  run
    .command('cancel <tenantId> <runId>')
    .description('cancel a run: in-flight nodes are cancelled and its slot released')
    .action(async (tenantId: string, runId: string) => {
      const handle = runHandle(await clientOf(tenantId), tenantId, runId);
      try {
        await handle.cancel();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new UserError(`unknown run ${runId} of tenant ${tenantId}`, 'NOT_FOUND');
        throw err;
      }
      print({ tenantId, runId, cancelRequested: true }, () => `cancellation requested for run ${runId}`);
    });
}
