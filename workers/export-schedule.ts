/** The export sweep Schedule, ensured when workers start. */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleHandle } from '@temporalio/client';
import { sweepExports } from '../workflows/sweep-exports';
import { CONTROL_TASK_QUEUE } from '../workflows/domain/ids';

export const EXPORT_SCHEDULE_ID = 'ados-export-sweep';
/** How often the sweep exports runs that closed since the last one: a run's artifacts appear within about this long. */
export const EXPORT_SWEEP_SECONDS = 10;

/**
 * The Temporal Schedule that exports finished runs in batches: each sweep lists the runs closed
 * since the last one from visibility and writes their artifacts. Created once; later calls find it
 * there. A sweep still running when the next is due is skipped, not stacked.
 */
export async function ensureExportSchedule(
  client: Client,
  { everySeconds = EXPORT_SWEEP_SECONDS } = {},
): Promise<ScheduleHandle> {
  try {
    return await client.schedule.create({
      scheduleId: EXPORT_SCHEDULE_ID,
      spec: { intervals: [{ every: `${everySeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: sweepExports,
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId: 'ados-export-sweep-run',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: 'exports finished delivery runs not yet exported; refreshes execution/queue_state.json' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    // A schedule made by an earlier version sweeps at its old pace; bring it to this one.
    const handle = client.schedule.getHandle(EXPORT_SCHEDULE_ID);
    const every = `${everySeconds}s`;
    const current = await handle.describe();
    const interval = current.spec.intervals?.[0]?.every;
    if (current.spec.intervals?.length !== 1 || msOf(interval) !== everySeconds * 1000)
      await handle.update((prev) => ({ ...prev, spec: { intervals: [{ every }] } }));
    return handle;
  }
}

function msOf(duration: unknown): number | undefined {
  if (typeof duration === 'number') return duration;
  if (typeof duration === 'string' && /^\d+s$/.test(duration)) return Number(duration.slice(0, -1)) * 1000;
  return undefined;
}
