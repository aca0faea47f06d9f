/** Failover between regions: Temporal's graceful handover, or a forced move when a region is lost. */
import { Client, type Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { UserError } from '../../user-error';
import { placementNamespace, placementsOf } from './placements';
import { DIRECTORY_NAMESPACE } from '../../../workflows/domain/ids';
import { describeLocally, local, regionStates, requireRegions, until, withConnections } from './state';

export interface FailoverOptions {
  dir: string;
  /** The region whose namespaces move. */
  from: string;
  to: string;
  /** `from` is gone: make `to` active without a handover, accepting what `from` had not yet replicated. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface FailoverResult {
  from: string;
  to: string;
  force: boolean;
  /** The namespaces that moved, each with how long its move took (and, for a handover, each step). */
  moved: Array<{ namespace: string; ms: number; steps?: Record<string, number> }>;
  /** Namespaces active in `from` that cannot move to `to` (their tenants' data may not be there). */
  stayed: string[];
}

/**
 * Moves every namespace active in `from` whose placement includes `to` (and the directory, which
 * spans every region): a graceful handover
 * (Temporal's namespace-handover workflow in `from`: `to` catches up, `from` stops taking writes,
 * then `to` becomes active; nothing is lost), or with `force`, `to` made active at once from its own
 * copy (what `from` had not replicated is lost, or comes back on the winning branch if `from` returns).
 */
export async function failoverRegion(options: FailoverOptions): Promise<FailoverResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const regions = requireRegions(options.dir);
  for (const name of [options.from, options.to])
    if (!regions.regions.includes(name))
      throw new UserError(`no region ${name} (the regions are ${regions.regions.join(', ')})`, 'INVALID_INPUT');
  if (options.from === options.to)
    throw new UserError(`--to ${options.to} is the region failing over`, 'INVALID_INPUT');
  const all = regionStates(regions);
  // Forced: the lost region is not called at all; graceful: both must answer.
  const states = options.force ? all.filter((s) => s.region!.name !== options.from) : all;
  return withConnections(states, async (connections) => {
    const target = connections.get(options.to)!;
    const moving: string[] = [];
    const stayed: string[] = [];
    for (const placement of placementsOf(regions.regions)) {
      if (!placement.regions.includes(options.from)) continue;
      const namespace = placementNamespace(placement);
      if (!placement.regions.includes(options.to)) {
        // Pinned away from `to`: its tenants stay with `from` (lost with it, when forced).
        if (placement.home === options.from || options.force) stayed.push(namespace);
        continue;
      }
      const described = await describeLocally(target, namespace).catch(() => undefined);
      if (described?.replicationConfig?.activeClusterName === options.from) moving.push(namespace);
    }
    // The directory spans every region: it moves with the region it is active in.
    const directory = await describeLocally(target, DIRECTORY_NAMESPACE).catch(() => undefined);
    if (directory?.replicationConfig?.activeClusterName === options.from) moving.push(DIRECTORY_NAMESPACE);
    // Every namespace at once: the tenants of each wait only for their own namespace's move.
    const moved = await Promise.all(
      moving.map(async (namespace) => {
        const began = Date.now();
        let steps: Record<string, number> | undefined;
        if (options.force) await forceActive(target, namespace, options.to);
        else steps = await handover(connections.get(options.from)!, namespace, options.to);
        await until(`${namespace} active in ${options.to}`, 60_000, async () => {
          const now = await describeLocally(target, namespace);
          return now?.replicationConfig?.activeClusterName === options.to ? true : undefined;
        });
        log(`${namespace}: active in ${options.to} (${Date.now() - began} ms)`);
        return { namespace, ms: Date.now() - began, ...(steps ? { steps } : {}) };
      }),
    );
    return { from: options.from, to: options.to, force: Boolean(options.force), moved, stayed };
  });
}

/** A forced failover: the surviving region declares itself active for the namespace. */
async function forceActive(connection: Connection, namespace: string, to: string): Promise<void> {
  await local(connection, () =>
    connection.workflowService.updateNamespace({ namespace, replicationConfig: { activeClusterName: to } }),
  );
}

/**
 * A graceful handover, run by Temporal's own `namespace-handover-v2` system workflow in the active
 * region: it waits for `to` to be at most a few seconds behind, stops writes (the namespace is in
 * HANDOVER), waits for `to` to have everything, then makes `to` active. Its input is plain JSON:
 * the system worker does not use ADOS's payload codec.
 */
async function handover(active: Connection, namespace: string, to: string): Promise<Record<string, number>> {
  const system = new Client({ connection: active, namespace: 'temporal-system' });
  const handle = await system.workflow.start('namespace-handover-v2', {
    taskQueue: 'default-worker-tq',
    workflowId: `ados-handover-${namespace}-${Date.now()}`,
    args: [{ Namespace: namespace, RemoteCluster: to, AllowedLaggingSeconds: 5, HandoverTimeoutSeconds: 20 }],
  });
  await handle.result();
  return handoverSteps(await handle.fetchHistory());
}

/** How long each step of a handover took (ms, by activity name, in order; a step done twice adds up). */
function handoverSteps(history: temporal.api.history.v1.IHistory): Record<string, number> {
  const scheduled = new Map<string, { name: string; at: number }>();
  const steps: Record<string, number> = {};
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), { name: s.activityType?.name ?? '?', at: tsToMs(event.eventTime) });
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      const step = scheduled.get(String(done.scheduledEventId));
      if (step) steps[step.name] = (steps[step.name] ?? 0) + tsToMs(event.eventTime) - step.at;
    }
  }
  return steps;
}
