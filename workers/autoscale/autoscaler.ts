/** The node-worker supervisor: starts and drains `ados worker` processes to follow the load. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { freePort } from '../../infra/ports';
import { ADOS_BIN } from '../../infra/project';
import { queueBacklog } from '../../infra/metrics/worker-metrics';
import {
  decideProcesses,
  initialAutoscaleState,
  type AutoscaleSettings,
  type AutoscaleState,
  type QueueLoad,
} from './policy';

/**
 * Gauges by queue from an `ados worker`'s /metrics (e.g. `ados_node_activities_running`), by
 * name; undefined when the worker does not answer (not serving yet, or gone).
 */
export async function scrapeByQueue(
  url: string,
  gauges: readonly string[],
): Promise<Map<string, Map<string, number>> | undefined> {
  const text = await fetch(url, { signal: AbortSignal.timeout(1500) })
    .then((r) => (r.ok ? r.text() : undefined))
    .catch(() => undefined);
  if (text === undefined) return undefined;
  const values = new Map(gauges.map((g) => [g, new Map<string, number>()]));
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{queue="([^"]+)"\} (\S+)$/.exec(line);
    if (match) values.get(match[1]!)?.set(match[2]!, Number(match[3]));
  }
  return values;
}

export interface AutoscalerOptions {
  settings: AutoscaleSettings;
  /** The node queues every supervised process serves. */
  queues: string[];
  /** Arguments for each `ados worker` process after `worker --role nodes` (partitions, tenants, slots). */
  workerArgs: string[];
  env: NodeJS.ProcessEnv;
  client: Client;
  logger: Logger;
  /**
   * The control workers' /metrics URLs: the admitted runs' remaining node-seconds and scheduled
   * nodes (`ados_admitted_node_seconds_remaining`, `ados_admitted_nodes_scheduled`) join the
   * decision. @default none (backlog and running nodes only)
   */
  workFrom?: string[];
  /** How often the queues are read and the target decided. @default 1000 */
  intervalMs?: number;
}

interface Supervised {
  child: ChildProcess;
  metricsPort: number;
  /** SIGTERM sent: it finishes its activities and exits; no longer counted as capacity. */
  draining: boolean;
}

/**
 * `ados worker --role nodes --autoscale MIN..MAX`: spawns `ados worker --role nodes` processes on
 * this machine and follows the node queues' backlog (Temporal's task queue statistics), what the
 * processes run (their /metrics) and, with `workFrom`, the admitted runs' remaining work (the
 * control workers' /metrics), deciding the number of processes by workers/autoscale/policy.ts.
 * Scaling in sends SIGTERM to the newest process, which drains its activities before it exits.
 */
export class NodeAutoscaler {
  readonly registry = new Registry();
  private readonly targetGauge = new Gauge({
    name: 'ados_autoscale_target',
    help: 'Node-worker processes the autoscaler wants',
    registers: [this.registry],
  });
  private readonly processesGauge = new Gauge({
    name: 'ados_autoscale_processes',
    help: 'Node-worker processes running (not draining)',
    registers: [this.registry],
  });
  private readonly backlogGauge = new Gauge({
    name: 'ados_node_backlog',
    help: 'Node tasks waiting, by queue (Temporal task queue statistics)',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  private readonly backlogAgeGauge = new Gauge({
    name: 'ados_node_backlog_age_seconds',
    help: 'Age of the oldest waiting node task, by queue',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  private readonly workGauge = new Gauge({
    name: 'ados_admitted_node_seconds_remaining',
    help: "Expected node-seconds of the admitted runs' nodes not yet ended, by queue (summed over the control workers followed)",
    labelNames: ['queue'],
    registers: [this.registry],
  });
  /** Whether the last read of the control workers failed (warned once per failing streak). */
  private workUnread = false;
  private readonly runningGauge = new Gauge({
    name: 'ados_autoscale_nodes_running',
    help: 'Node activities running in the supervised processes, by queue',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  private readonly processes: Supervised[] = [];
  private state: AutoscaleState;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private readonly began = Date.now();
  private stopped = false;
  /** Every decision that changed the target, with its inputs (also logged). */
  readonly decisions: Array<{
    at: string;
    from: number;
    to: number;
    reason: string;
    queues: Record<string, QueueLoad>;
  }> = [];

  constructor(private readonly options: AutoscalerOptions) {
    this.state = initialAutoscaleState(options.settings, 0);
  }

  /** Starts MIN processes and begins following the queues. */
  async start(): Promise<void> {
    await this.apply(this.state.target);
    this.timer = setInterval(() => {
      this.ticking = this.ticking
        .then(() => this.tick())
        .catch((err: unknown) => {
          this.options.logger.warn(
            { err: String(err) },
            'autoscaler could not read the node queues; keeping the processes',
          );
        });
    }, this.options.intervalMs ?? 1000);
  }

  /** Processes serving now (not draining). */
  get running(): number {
    return this.processes.filter((p) => !p.draining).length;
  }

  /** One sample, one decision, applied. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    // How long each source took to read, logged with the decision: a slow source delays the sample.
    const readMs = { processes: 0, temporal: 0, control: 0 };
    const began = Date.now();
    const timed = <T>(source: keyof typeof readMs, reading: Promise<T>) =>
      reading.finally(() => (readMs[source] = Date.now() - began));
    const [perQueue, backlogs, work] = await Promise.all([
      timed(
        'processes',
        Promise.all(
          this.processes.map((p) =>
            scrapeByQueue(`http://127.0.0.1:${p.metricsPort}/metrics`, ['ados_node_activities_running']).then((g) =>
              g?.get('ados_node_activities_running'),
            ),
          ),
        ),
      ),
      timed('temporal', Promise.all(this.options.queues.map((queue) => queueBacklog(this.options.client, queue)))),
      timed('control', this.admittedWork()),
    ]);
    const queues: Record<string, QueueLoad> = {};
    for (const [i, queue] of this.options.queues.entries()) {
      const { backlog, backlogAgeMs } = backlogs[i]!;
      const running = perQueue.reduce((sum, m) => sum + (m?.get(queue) ?? 0), 0);
      const admitted = work ? { work: work.seconds.get(queue) ?? 0, scheduled: work.scheduled.get(queue) ?? 0 } : {};
      queues[queue] = { backlog, backlogAgeMs, running, ...admitted };
      this.backlogGauge.set({ queue }, backlog);
      this.backlogAgeGauge.set({ queue }, backlogAgeMs / 1000);
      this.runningGauge.set({ queue }, running);
      if (admitted.work !== undefined) this.workGauge.set({ queue }, admitted.work);
    }
    const from = this.state.target;
    const decision = decideProcesses(this.options.settings, this.state, {
      at: Date.now() - this.began,
      queues: Object.values(queues),
    });
    this.state = decision.state;
    if (decision.state.target !== from) {
      const record = { at: new Date().toISOString(), from, to: decision.state.target, reason: decision.reason, queues };
      this.decisions.push(record);
      this.options.logger.info({ ...record, needed: decision.needed, readMs }, 'autoscaler changed its target');
    } else {
      this.options.logger.debug({ target: from, needed: decision.needed, queues, readMs }, 'autoscaler holds');
    }
    await this.apply(this.state.target);
  }

  /**
   * The admitted runs' remaining node-seconds and scheduled nodes by queue, summed over the control
   * workers followed; undefined when none is followed or one does not answer (the decision then
   * goes without them).
   */
  private async admittedWork(): Promise<{ seconds: Map<string, number>; scheduled: Map<string, number> } | undefined> {
    const urls = this.options.workFrom ?? [];
    if (urls.length === 0) return undefined;
    const names = ['ados_admitted_node_seconds_remaining', 'ados_admitted_nodes_scheduled'] as const;
    const all = await Promise.all(urls.map((url) => scrapeByQueue(url, names)));
    const missing = urls.filter((_, i) => all[i] === undefined);
    if (missing.length > 0) {
      if (!this.workUnread)
        this.options.logger.warn(
          { unanswered: missing },
          "a control worker's /metrics did not answer: deciding on backlog and running nodes alone until it does",
        );
      this.workUnread = true;
      return undefined;
    }
    this.workUnread = false;
    const sum = (name: (typeof names)[number]) => {
      const total = new Map<string, number>();
      for (const gauges of all)
        for (const [queue, v] of gauges!.get(name)!) total.set(queue, (total.get(queue) ?? 0) + v);
      return total;
    };
    return { seconds: sum(names[0]), scheduled: sum(names[1]) };
  }

  /** Starts or drains processes until as many serve as the target. */
  private async apply(target: number): Promise<void> {
    while (!this.stopped && this.running < target) await this.spawnOne();
    while (this.running > target) {
      const newest = [...this.processes].reverse().find((p) => !p.draining)!;
      newest.draining = true;
      newest.child.kill('SIGTERM');
    }
    this.targetGauge.set(target);
    this.processesGauge.set(this.running);
  }

  private async spawnOne(): Promise<void> {
    const metricsPort = await freePort();
    const child = spawn(
      process.execPath,
      [ADOS_BIN, 'worker', '--role', 'nodes', '--metrics-port', String(metricsPort), ...this.options.workerArgs],
      // The IPC channel is the process's tie to its supervisor: when it closes (the supervisor died,
      // even by SIGKILL), the process drains and exits instead of running on unsupervised.
      { env: this.options.env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    const supervised: Supervised = { child, metricsPort, draining: false };
    this.processes.push(supervised);
    child.once('exit', (code, signal) => {
      this.processes.splice(this.processes.indexOf(supervised), 1);
      this.processesGauge.set(this.running);
      if (!supervised.draining && !this.stopped)
        this.options.logger.warn(
          { pid: child.pid, code, signal },
          'a node-worker process exited on its own; the next sample replaces it',
        );
      else this.options.logger.info({ pid: child.pid }, 'node-worker process drained and exited');
    });
    this.options.logger.info({ pid: child.pid, metricsPort }, 'node-worker process started');
  }

  /** Stops following the queues and drains every process (SIGTERM), waiting until all have exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking.catch(() => undefined);
    const exits = this.processes.map(
      (p) =>
        new Promise<void>((resolve) => (p.child.exitCode !== null ? resolve() : p.child.once('exit', () => resolve()))),
    );
    for (const p of this.processes) {
      p.draining = true;
      p.child.kill('SIGTERM');
    }
    await Promise.all(exits);
    this.processesGauge.set(0);
  }
}
