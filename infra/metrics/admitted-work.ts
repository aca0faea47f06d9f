/**
 * What the admitted runs hosted by one control worker still have to run, by node queue: their
 * nodes not yet ended, those nodes' expected node-seconds, and how many of them are scheduled now
 * (waiting on the queue or running). The runs report it through the workflows' `metrics` sink
 * (once admitted, whenever a node starts or ends, and empty when they end); each node kind's
 * expected seconds are learned from the durations its node workers measured.
 *
 * It is a signal for scaling, not an account: a run whose workflow moved to another control
 * worker (a cache eviction, a restart) is counted there from its next node on, and here until its
 * last report is `STALE_MS` old; so is a run terminated from outside, which reports nothing more.
 */
export class AdmittedWork {
  /** A run not heard from for this long is dropped (10 minutes: longer than a node normally runs). */
  static readonly STALE_MS = 10 * 60_000;
  /** A kind's expected seconds before any of its nodes has been measured. */
  static readonly PRIOR_SECONDS = 1;
  /** Weight of the newest measured duration in a kind's expected seconds. */
  static readonly LEARNING_RATE = 0.2;

  private readonly runs = new Map<
    string,
    { queue: string; kinds: Record<string, number>; scheduled: number; at: number }
  >();
  private readonly seconds = new Map<string, number>();
  /** Every queue some run reported on: it stays in `byQueue` at zero once its runs are done. */
  private readonly queues = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A run's nodes not yet ended, counted by kind, on its node queue, and how many of them are
   * scheduled (handed to Temporal: waiting or running); none means the run is done.
   */
  report(run: string, queue: string, kinds: Record<string, number>, scheduled = 0): void {
    this.queues.add(queue);
    if (Object.values(kinds).some((n) => n > 0)) this.runs.set(run, { queue, kinds, scheduled, at: this.now() });
    else this.runs.delete(run);
  }

  /** A node of `kind` ran for `ms` (measured where it ran). */
  nodeRan(kind: string, ms: number): void {
    if (!(ms >= 0)) return;
    const before = this.seconds.get(kind);
    const seconds = ms / 1000;
    this.seconds.set(kind, before === undefined ? seconds : before + AdmittedWork.LEARNING_RATE * (seconds - before));
  }

  /** What a node of `kind` is expected to take, seconds. */
  expectedSeconds(kind: string): number {
    return this.seconds.get(kind) ?? AdmittedWork.PRIOR_SECONDS;
  }

  /** Remaining nodes, their node-seconds, and those scheduled, per queue reported on, over the runs heard from within `STALE_MS`. */
  byQueue(): Map<string, QueueWork> {
    const now = this.now();
    const totals = new Map([...this.queues].map((queue) => [queue, { nodes: 0, nodeSeconds: 0, scheduled: 0 }]));
    for (const [run, work] of this.runs) {
      if (now - work.at > AdmittedWork.STALE_MS) {
        this.runs.delete(run);
        continue;
      }
      const total = totals.get(work.queue)!;
      total.scheduled += work.scheduled;
      for (const [kind, n] of Object.entries(work.kinds)) {
        total.nodes += n;
        total.nodeSeconds += n * this.expectedSeconds(kind);
      }
    }
    return totals;
  }
}

export interface QueueWork {
  nodes: number;
  nodeSeconds: number;
  scheduled: number;
}
