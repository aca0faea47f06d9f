/** The task queues' state (backlog, pollers) written as an artifact for operators. */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CONTROL_TASK_QUEUE, ENTITY_TASK_QUEUE } from '../../workflows/domain/ids';
import { partitionTaskQueue } from '../../workflows/domain/run/routing';
import { artifactsRoot, json, writeFileAtomic } from './atomic';

const { TaskQueueType } = temporal.api.enums.v1;

/** Backlog and pollers of every ADOS task queue, from Temporal's DescribeTaskQueue, into execution/queue_state.json. */
export async function writeQueueState(client: Client, partitions: number, root = artifactsRoot()): Promise<number> {
  const queues = [
    { name: CONTROL_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
    { name: CONTROL_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
    { name: ENTITY_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
    ...Array.from({ length: partitions }, (_, k) => ({
      name: partitionTaskQueue(k),
      type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    })),
  ];
  const described = await Promise.all(
    queues.map(async ({ name, type }) => {
      const response = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name },
        taskQueueType: type,
        includeTaskQueueStatus: true,
      });
      return {
        name,
        type: type === TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW ? 'workflow' : 'activity',
        backlog: Number(response.taskQueueStatus?.backlogCountHint ?? 0),
        pollers: (response.pollers ?? []).map((p) => ({
          identity: p.identity,
          lastAccessTime: p.lastAccessTime?.seconds
            ? new Date(Number(p.lastAccessTime.seconds) * 1000).toISOString()
            : undefined,
        })),
      };
    }),
  );
  writeFileAtomic(
    join(root, 'execution', 'queue_state.json'),
    json({ at: new Date().toISOString(), queues: described }),
  );
  return described.length;
}
