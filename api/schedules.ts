import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleHandle } from '@temporalio/client';
import { sweepExports } from '../workflows/sweep-exports';
import { CONTROL_TASK_QUEUE } from '../workflows/policy/ids';

export const EXPORT_SCHEDULE_ID = 'ados-export-sweep';

/**
 * The Temporal Schedule that sweeps finished runs not yet exported. Created once; later calls
 * find it there. A sweep still running when the next is due is skipped, not stacked.
 */
export async function ensureExportSchedule(client: Client, { everySeconds = 60 } = {}): Promise<ScheduleHandle> {
  try {
    return await client.schedule.create({
      scheduleId: EXPORT_SCHEDULE_ID,
      spec: { intervals: [{ every: `${everySeconds}s` }] },
      action: { type: 'startWorkflow', workflowType: sweepExports, taskQueue: CONTROL_TASK_QUEUE, workflowId: 'ados-export-sweep-run' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: 'exports finished delivery runs not yet exported; refreshes execution/queue_state.json' },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return client.schedule.getHandle(EXPORT_SCHEDULE_ID);
    throw err;
  }
}
