/** A worker's metrics: the workflows' metrics sink, queue backlogs, node durations, and /metrics. */
import { createServer, type Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Gauge } from 'prom-client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { ActivityExecuteInput, Next, ActivityInboundCallsInterceptor } from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';
import { metricsText, type AdosMetrics } from './registry';
import type { MetricsSinks } from '../../workflows/ports/metrics-sink';

const { TaskQueueType } = temporal.api.enums.v1;

/**
 * The worker side of the workflows' `metrics` sink: each call becomes a Prometheus sample. Without
 * metrics the calls are dropped (the sink is registered anyway, so workflows can always call it).
 */
export function metricsSinks(m: AdosMetrics | undefined): InjectedSinks<MetricsSinks> {
  return {
    metrics: {
      runEnded: { fn: (_info, tenantId, status) => m?.runsEnded.inc({ tenant: tenantId, status }) },
      decision: { fn: (_info, action) => m?.decisions.inc({ action }) },
      admission: { fn: (_info, outcome, waitMs) => m?.admissionWait.observe({ outcome }, waitMs / 1000) },
      spent: { fn: (_info, tenantId, category, usd) => m?.spend.inc({ tenant: tenantId, category }, usd) },
      work: {
        fn: (info, queue, remaining, scheduled) =>
          m?.work.report(`${info.workflowId}/${info.runId}`, queue, remaining, scheduled),
      },
      nodeRan: { fn: (_info, kind, ms) => m?.work.nodeRan(kind, ms) },
    },
  };
}

/** What one queue looks like from Temporal: its waiting tasks, node (activity) tasks unless told (DescribeTaskQueue with stats). */
export async function queueBacklog(
  client: Client,
  queue: string,
  kind: 'activity' | 'workflow' = 'activity',
): Promise<{ backlog: number; backlogAgeMs: number }> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue },
    taskQueueType:
      kind === 'activity' ? TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY : TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    reportStats: true,
  });
  const stats = response.stats;
  const age = stats?.approximateBacklogAge;
  return {
    backlog: Number(stats?.approximateBacklogCount ?? 0),
    backlogAgeMs: age ? Number(age.seconds ?? 0) * 1000 + Math.round((age.nanos ?? 0) / 1e6) : 0,
  };
}

/**
 * Each node queue's backlog on the worker's /metrics, read from Temporal at every scrape: with
 * the admitted runs' remaining work (`ados_admitted_node_seconds_remaining`), the signal an
 * external autoscaler follows. A queue Temporal cannot describe just now is left out of that scrape.
 */
export function exportNodeBacklog(m: AdosMetrics, client: () => Promise<Client>, queues: string[]): void {
  const read = async () => {
    const c = await client();
    const all = await Promise.all(queues.map((queue) => queueBacklog(c, queue).catch(() => undefined)));
    return new Map(queues.flatMap((queue, i) => (all[i] ? [[queue, all[i]] as const] : [])));
  };
  // One read serves both gauges of a scrape.
  let reading: Promise<Map<string, { backlog: number; backlogAgeMs: number }>> | undefined;
  const once = () => {
    reading ??= read().finally(() => setTimeout(() => (reading = undefined), 100).unref());
    return reading;
  };
  new Gauge({
    name: 'ados_node_backlog',
    help: 'Node tasks waiting, by queue (Temporal task queue statistics, read at each scrape)',
    labelNames: ['queue'],
    registers: [m.registry],
    async collect() {
      this.reset();
      for (const [queue, { backlog }] of await once()) this.set({ queue }, backlog);
    },
  });
  new Gauge({
    name: 'ados_node_backlog_age_seconds',
    help: 'Age of the oldest waiting node task, by queue (read at each scrape)',
    labelNames: ['queue'],
    registers: [m.registry],
    async collect() {
      this.reset();
      for (const [queue, { backlogAgeMs }] of await once()) this.set({ queue }, backlogAgeMs / 1000);
    },
  });
}

/** Times every node activity attempt, by kind and outcome. */
export function nodeDurationInterceptor(m: AdosMetrics): ActivityInterceptorsFactory {
  return (ctx: ActivityContext): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      execute: async (input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) => {
        const end = m.nodeDuration.startTimer({ kind: ctx.info.activityType });
        const queue = { queue: ctx.info.taskQueue };
        m.nodesRunning.inc(queue);
        try {
          const result = await next(input);
          end({ outcome: 'completed' });
          return result;
        } catch (err) {
          end({ outcome: (err as Error)?.name === 'CancelledFailure' ? 'cancelled' : 'failed' });
          throw err;
        } finally {
          m.nodesRunning.dec(queue);
        }
      },
    },
  });
}

/**
 * Serves /metrics: ADOS's own metrics, then Temporal's runtime metrics (scraped from the SDK's
 * Prometheus exporter on `temporalMetricsUrl`), so one scrape gets both.
 */
export function serveWorkerMetrics(m: AdosMetrics, port: number, temporalMetricsUrl?: string): Promise<Server> {
  return serveMetrics(port, () => metricsText(m, temporalMetricsUrl));
}

/** Serves /metrics on `port` with the text `metrics` gives at each scrape (404 for any other path). */
export function serveMetrics(port: number, metrics: () => Promise<string>): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'NOT_FOUND', message: 'only /metrics is served here' }));
      return;
    }
    metrics().then(
      (text) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
      (err: unknown) => response.writeHead(500).end(String(err)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
