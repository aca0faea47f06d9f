/** ADOS's Prometheus metrics registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AdmittedWork } from './admitted-work';

/**
 * ADOS's Prometheus metrics, one registry per process. Workers count what their workflows report
 * through the `metrics` sink and what their activities do; the API counts its requests.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ados_process_' });
  const work = new AdmittedWork();
  const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
  return {
    registry,
    runsEnded: new Counter({
      name: 'ados_runs_total',
      help: 'Delivery runs ended, by tenant and final status',
      labelNames: ['tenant', 'status'],
      registers: [registry],
    }),
    nodeDuration: new Histogram({
      name: 'ados_node_duration_seconds',
      help: 'Node activity attempts, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: seconds,
      registers: [registry],
    }),
    nodesRunning: new Gauge({
      name: 'ados_node_activities_running',
      help: 'Activities running in this process now, by task queue (node queues: what the autoscaler reads)',
      labelNames: ['queue'],
      registers: [registry],
    }),
    /** The admitted runs' remaining work, as their workflows report it to this (control) worker. */
    work,
    workNodes: new Gauge({
      name: 'ados_admitted_nodes_remaining',
      help: 'Nodes not yet ended of the admitted runs this worker hosts, by node queue',
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [queue, { nodes }] of work.byQueue()) this.set({ queue }, nodes);
      },
    }),
    workSeconds: new Gauge({
      name: 'ados_admitted_node_seconds_remaining',
      help: "Expected node-seconds of the admitted runs' nodes not yet ended (each kind's measured mean duration), by node queue",
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [queue, { nodeSeconds }] of work.byQueue())
          this.set({ queue }, Math.round(nodeSeconds * 1000) / 1000);
      },
    }),
    workScheduled: new Gauge({
      name: 'ados_admitted_nodes_scheduled',
      help: 'Nodes of the admitted runs this worker hosts handed to Temporal now (waiting on the queue or running), by node queue',
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [queue, { scheduled }] of work.byQueue()) this.set({ queue }, scheduled);
      },
    }),
    decisions: new Counter({
      name: 'ados_cost_decisions_total',
      help: 'CostAgent decisions, by action',
      labelNames: ['action'],
      registers: [registry],
    }),
    admissionWait: new Histogram({
      name: 'ados_admission_wait_seconds',
      help: 'Time from a run asking for admission to its answer, by outcome',
      labelNames: ['outcome'],
      buckets: seconds,
      registers: [registry],
    }),
    spend: new Counter({
      name: 'ados_spend_usd_total',
      help: 'Money spent by node activities, by tenant and category',
      labelNames: ['tenant', 'category'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'ados_http_requests_total',
      help: 'API requests, by method, route and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    dashboardQueries: new Counter({
      name: 'ados_dashboard_loads_total',
      help: 'Dashboard answers loaded from Temporal (a tenant: its status query; the overview: a visibility list and each tenant status), by view; every open page shares them',
      labelNames: ['view'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'ados_http_request_duration_seconds',
      help: 'API request durations, by method and route',
      labelNames: ['method', 'route'],
      buckets: seconds,
      registers: [registry],
    }),
  };
}

export type AdosMetrics = ReturnType<typeof createMetrics>;

/** The registry's text, followed by another exporter's (e.g. Temporal's runtime metrics), if it answers. */
export async function metricsText(metrics: AdosMetrics, alsoFrom?: string): Promise<string> {
  const own = await metrics.registry.metrics();
  if (!alsoFrom) return own;
  const other = await fetch(alsoFrom, { signal: AbortSignal.timeout(2000) })
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  return other ? `${own}\n${other}` : own;
}
