/**
 * How many node-worker processes a machine should run, decided from what Temporal and the workers
 * say about the node queues. Pure: the supervisor (workers/autoscale/autoscaler.ts) samples, this decides.
 *
 * - **Up**, at once and as far as needed: when tasks wait on a queue (a backlog older than
 *   `upBacklogAgeMs`, or at least a process's worth of them), the target becomes what the busiest
 *   queue's running nodes plus backlog need, in whole processes. With the admitted work followed,
 *   what waits is also read live from the runs (their scheduled nodes not running), ahead of
 *   Temporal's cached statistics. Steps up follow one another as the need grows (what the
 *   running nodes plus what waits need does not change as new processes take tasks over, so a
 *   second read cannot count the same tasks twice), but not within `upCooldownMs` of a step down.
 * - **Down**, one process at a time: only when nothing waits and every queue's running nodes would
 *   fit in one process fewer at `downUtilization` of its slots, continuously for `downCooldownMs`, and that
 *   long after the last change. The gap between the two conditions (over 100% against under 50% by
 *   default) and the long calm are the hysteresis: a steady load settles on one number.
 * - **The admitted runs' remaining work**, when the supervisor follows it (node-seconds per queue,
 *   from the control workers): it holds processes while the work ahead would keep fewer busy
 *   (no step down while it exceeds what one process fewer does at `downUtilization` over a
 *   down cool-down), and once every queue is drained (no backlog, nothing running, no admitted
 *   work left) for `drainMs`, the target falls to MIN at once: ADOS knows no node is coming that
 *   an admitted run would start. Scaling up follows only what waits: an admitted run's next nodes
 *   wait for the ones it runs, so they cannot use more slots yet.
 * - Always within MIN..MAX.
 */

export interface AutoscaleSettings {
  min: number;
  max: number;
  /** Node activities one process runs at once on each queue it serves (its slots per queue). */
  slotsPerProcess: number;
  upBacklogAgeMs: number;
  upCooldownMs: number;
  downCooldownMs: number;
  downUtilization: number;
  /** How long every queue must stay drained (the admitted work followed and none left) before the target falls to MIN. */
  drainMs: number;
}

export const AUTOSCALE_DEFAULTS = {
  upBacklogAgeMs: 1000,
  upCooldownMs: 5000,
  downCooldownMs: 30_000,
  downUtilization: 0.5,
  drainMs: 3000,
} as const;

/** One node queue at one instant. */
export interface QueueLoad {
  /** Node tasks waiting (Temporal's approximate backlog count). */
  backlog: number;
  /** Age of the oldest waiting task, ms. */
  backlogAgeMs: number;
  /** Node activities of this queue running in the supervised processes. */
  running: number;
  /** Expected node-seconds the admitted runs still have on this queue; absent when not followed. */
  work?: number;
  /**
   * The admitted runs' nodes handed to Temporal on this queue (waiting or running), as the runs
   * report them: live, where Temporal's backlog statistics are cached for some seconds. Absent
   * when not followed.
   */
  scheduled?: number;
}

/** What the supervisor saw at one instant: every served queue (each process serves them all). */
export interface AutoscaleSample {
  /** ms since some origin (a clock the supervisor keeps). */
  at: number;
  queues: QueueLoad[];
}

export interface AutoscaleState {
  target: number;
  /** When the target last changed (or the supervisor started). */
  changedAt: number;
  /** Which way the last change went; none yet at the start. */
  stepped?: 'up' | 'down';
  /** Since when the down condition has held without a break. */
  calmSince?: number;
  /** Since when every queue has been drained (admitted work followed and none left) without a break. */
  drainedSince?: number;
}

export interface AutoscaleDecision {
  state: AutoscaleState;
  /** Why the target is what it is: 'backlog' (up), 'idle' (one down), 'drained' (down to MIN), or 'hold'. */
  reason: 'backlog' | 'idle' | 'drained' | 'hold';
  /** Processes the running nodes and the backlog need, before MIN..MAX. */
  needed: number;
}

export function initialAutoscaleState(settings: AutoscaleSettings, at: number): AutoscaleState {
  return { target: settings.min, changedAt: at };
}

export function decideProcesses(
  settings: AutoscaleSettings,
  state: AutoscaleState,
  sample: AutoscaleSample,
): AutoscaleDecision {
  const { min, max, slotsPerProcess } = settings;
  const clamp = (n: number) => Math.max(min, Math.min(max, n));
  // What waits on a queue: Temporal's count, or, sooner, the admitted runs' scheduled nodes not running.
  const waitingOn = (q: QueueLoad) => Math.max(q.backlog, (q.scheduled ?? 0) - q.running);
  // The busiest queue decides: every process serves every queue, with its slots on each.
  const needed = Math.max(0, ...sample.queues.map((q) => Math.ceil((q.running + waitingOn(q)) / slotsPerProcess)));
  const current = clamp(state.target);
  const sinceChange = sample.at - state.changedAt;
  const waiting = sample.queues.some(
    (q) => (q.backlog > 0 && q.backlogAgeMs >= settings.upBacklogAgeMs) || waitingOn(q) >= slotsPerProcess,
  );
  if (waiting && clamp(needed) > current) {
    if (state.stepped === 'down' && sinceChange < settings.upCooldownMs)
      return { state: { target: current, changedAt: state.changedAt, stepped: 'down' }, reason: 'hold', needed };
    return { state: { target: clamp(needed), changedAt: sample.at, stepped: 'up' }, reason: 'backlog', needed };
  }
  const drained = sample.queues.every((q) => q.backlog === 0 && q.running === 0 && q.work === 0);
  const drainedSince = drained ? (state.drainedSince ?? sample.at) : undefined;
  const held: AutoscaleState = {
    target: current,
    changedAt: state.changedAt,
    ...(state.stepped ? { stepped: state.stepped } : {}),
    ...(drainedSince !== undefined ? { drainedSince } : {}),
  };
  if (drainedSince !== undefined && current > min && sample.at - drainedSince >= settings.drainMs)
    if (sinceChange >= settings.upCooldownMs)
      return { state: { target: min, changedAt: sample.at, stepped: 'down', drainedSince }, reason: 'drained', needed };
  // The work ahead, if followed, must leave one process fewer under `downUtilization` for a down cool-down.
  const fewerCapacity = (current - 1) * slotsPerProcess * settings.downUtilization;
  const fitsInFewer = sample.queues.every(
    (q) =>
      waitingOn(q) === 0 &&
      q.running <= fewerCapacity &&
      (q.work === undefined || q.work <= (fewerCapacity * settings.downCooldownMs) / 1000),
  );
  if (!fitsInFewer || current <= min) return { state: held, reason: 'hold', needed };
  const calmSince = state.calmSince ?? sample.at;
  if (sample.at - calmSince >= settings.downCooldownMs && sinceChange >= settings.downCooldownMs)
    return { state: { target: current - 1, changedAt: sample.at, stepped: 'down', calmSince }, reason: 'idle', needed };
  return { state: { ...held, calmSince }, reason: 'hold', needed };
}

/** `MIN..MAX` from the command line, e.g. `1..4`; `limit` is the most MAX may be (processes on one machine by default). */
export function parseProcessRange(
  raw: string,
  limit = { max: 64, what: 'processes on one machine' },
): { min: number; max: number } {
  const match = /^(\d+)\.\.(\d+)$/.exec(raw.trim());
  if (!match) throw new Error(`--autoscale takes MIN..MAX, e.g. 1..4; got ${JSON.stringify(raw)}`);
  const [min, max] = [Number(match[1]), Number(match[2])];
  if (min < 1) throw new Error(`--autoscale: MIN must be at least 1, got ${min}`);
  if (max < min) throw new Error(`--autoscale: MAX (${max}) must be at least MIN (${min})`);
  if (max > limit.max) throw new Error(`--autoscale: MAX must be at most ${limit.max} ${limit.what}, got ${max}`);
  return { min, max };
}
