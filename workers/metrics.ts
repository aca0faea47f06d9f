import { createServer, type Server } from 'node:http';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { ActivityExecuteInput, Next, ActivityInboundCallsInterceptor } from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';
import { metricsText, type AdosMetrics } from '../infra/metrics';
import type { MetricsSinks } from '../workflows/metrics-sink';

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
    },
  };
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
